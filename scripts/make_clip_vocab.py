"""Build the Hugging Face CLIP tokenizer files (vocab.json, merges.txt) from OpenAI's BPE file.

The BPE merges file ``bpe_simple_vocab_16e6.txt.gz`` ships with OpenAI CLIP and inside the
``open_clip_torch`` wheel (``pip download --no-deps open_clip_torch``, then unzip it). The
vocabulary is built exactly as OpenAI's ``SimpleTokenizer`` (and so HF's
``openai/clip-vit-large-patch14``) does: the 256 byte characters, the same with ``</w>``, one
token per merge, then ``<|startoftext|>`` and ``<|endoftext|>``: 49408 tokens.

Usage::

    python scripts/make_clip_vocab.py /tmp/oc/open_clip/bpe_simple_vocab_16e6.txt.gz \
        src/riffgen/data/clip_tokenizer
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

# CLIP was trained with 49152 BPE "slots" minus the 256 byte tokens and the 2 specials.
NUM_MERGES = 49152 - 256 - 2
VOCAB_SIZE = 49408


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable unicode character map (same order)."""
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs), strict=True))


def build_vocab(bpe_path: Path) -> tuple[dict[str, int], list[str]]:
    """-> (token -> id, merge lines "a b") from the gzipped OpenAI BPE file."""
    with gzip.open(bpe_path) as f:
        lines = f.read().decode("utf-8").split("\n")
    # Line 0 is a version header; the next NUM_MERGES lines are the merges CLIP uses.
    merges = lines[1 : NUM_MERGES + 1]
    byte_chars = list(bytes_to_unicode().values())
    tokens = byte_chars + [c + "</w>" for c in byte_chars]
    tokens += ["".join(m.split()) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    if len(tokens) != VOCAB_SIZE:
        raise SystemExit(f"expected {VOCAB_SIZE} tokens, built {len(tokens)}")
    return {t: i for i, t in enumerate(tokens)}, merges


def write_files(vocab: dict[str, int], merges: list[str], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    # HF merges files start with a version line, like OpenAI's.
    (out_dir / "merges.txt").write_text(
        "#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bpe", type=Path, help="bpe_simple_vocab_16e6.txt.gz")
    parser.add_argument("out_dir", type=Path, help="directory for vocab.json and merges.txt")
    args = parser.parse_args()
    vocab, merges = build_vocab(args.bpe)
    write_files(vocab, merges, args.out_dir)
    print(f"wrote {len(vocab)} tokens and {len(merges)} merges to {args.out_dir}")


if __name__ == "__main__":
    main()
