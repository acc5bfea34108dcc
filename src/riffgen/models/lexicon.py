"""Instrument names musicians type -> the words riffgen's own models were trained on.

The mini model's captions name instruments by family words ("electric guitar", "organ") and
General MIDI names ("church organ", "tenor sax"); its frozen sentence encoder (MiniLM) does not
know that a Strat is an electric guitar or a Minimoog a synth lead (matching "a {name}" to the
family words by its own similarity finds the family for 21 of 54 such names). So a prompt
that names an instrument by brand, model, slang or a close relative gets the family's words
added after the name: "a Stratocaster riff" -> "a Stratocaster electric guitar riff". The name
stays, so nothing the prompt said is lost; words the captions already use are never touched, so
a training caption reads the same at generation time (a test checks every caption phrase).

Only riffgen's own sentence-encoder models expand prompts (:attr:`RiffgenPipeline.lexicon`):
riffusion-model-v1's CLIP encoder learned from the web and gets every prompt as written, as
the original does.

The table was written from general musical knowledge. ``riffgen evaluate``'s
``heldout_words`` aliases were known when it was written; its ``blind_words`` set was written
afterwards by someone who never saw this table, and measures how far the table carries.
"""

from __future__ import annotations

import bisect
import re
from functools import lru_cache

# The words each family's expansion adds: the family's first caption word.
FAMILY_WORDS: dict[str, str] = {
    "piano": "piano",
    "organ": "organ",
    "acoustic_guitar": "acoustic guitar",
    "electric_guitar": "electric guitar",
    "distorted_guitar": "distorted guitar",
    "bass": "bass",
    "violin": "violin",
    "strings": "strings",
    "brass": "brass",
    "saxophone": "saxophone",
    "flute": "flute",
    "synth_lead": "synth lead",
    "synth_pad": "synth pad",
    "choir": "choir",
    "drums": "drums",
}

# Names per family: brands and models, slang, famous players' instruments, close relatives
# (the family whose sound is nearest). Lower case; matched as whole words, case-insensitive,
# with an optional plural "s"; longer names win over their parts ("upright bass" over
# "upright"). None is a caption word or a General MIDI name the captions use.
NAMES: dict[str, tuple[str, ...]] = {
    "piano": (
        "steinway", "bösendorfer", "bosendorfer", "bechstein", "fazioli", "yamaha cfx",
        "baby grand", "concert grand", "upright", "pianoforte", "ivories", "88 keys",
        "eighty-eight keys", "honky-tonk", "honky tonk", "rhodes", "fender rhodes",
        "wurlitzer", "wurly", "electric piano", "e-piano", "clavinet", "clav", "harpsichord",
        "clavichord", "celesta", "toy piano", "keyboardist", "stride", "boogie-woogie",
        "ragtime", "nocturne", "chopin", "liszt", "thelonious monk",
    ),
    "organ": (
        "hammond", "hammond b3", "b3", "b-3", "c3", "tonewheel", "leslie", "drawbars",
        "vox continental", "farfisa", "harmonium", "pump reed", "accordion", "squeezebox",
        "melodica", "calliope", "theatre pipes", "pipes", "cathedral pipes", "toccata",
        "jimmy smith", "booker t",
    ),
    "acoustic_guitar": (
        "martin", "martin d-28", "d-28", "dreadnought", "j-45", "taylor", "takamine",
        "ovation", "parlor", "flattop", "flat-top", "nylon-string", "nylon string",
        "spanish", "flamenco", "fingerstyle", "fingerpicking", "fingerpicked", "campfire",
        "strummer", "strumming", "twelve-string", "12-string", "mandolin", "banjo",
        "ukulele", "uke", "bouzouki", "lute", "oud", "sitar", "dobro", "resonator", "segovia",
    ),
    "electric_guitar": (
        "stratocaster", "strat", "telecaster", "tele", "jazzmaster", "jaguar", "gretsch",
        "rickenbacker 360", "es-335", "semi-hollow", "hollow-body", "hollowbody", "archtop",
        "les paul", "sg", "jangle", "jangly", "chicken picking", "chicken-picking", "twang",
        "twangy", "surf", "axe", "six-string", "six string", "hendrix", "wes montgomery",
        "nile rodgers", "chank", "slide", "pedal steel", "lap steel", "clean tone",
    ),
    "distorted_guitar": (
        "fuzz", "fuzzbox", "big muff", "tube screamer", "high-gain", "high gain", "shred",
        "shredder", "shredding", "power chords", "power chord", "palm-muted", "palm muted",
        "chugging", "chug", "djent", "thrash", "crunch", "marshall stack", "marshall",
        "mesa boogie", "mesa", "rectifier", "dimebag", "van halen", "slash", "grunge",
        "downtuned", "drop d", "metal riff", "cranked",
    ),
    "bass": (
        "p-bass", "precision", "jazz bass", "j-bass", "stingray", "rickenbacker 4003",
        "rickenbacker 4001", "hofner", "höfner", "violin bass", "fretless", "jaco",
        "jaco pastorius", "low end", "low-end", "bottom end", "upright bass", "contrabass",
        "doghouse", "bull fiddle", "slap", "slapping", "thumb slap", "walking line",
        "four-string", "five-string", "4-string", "5-string", "reese", "bootsy", "flea",
        "mingus", "moog taurus", "taurus pedals",
    ),
    "violin": (
        "stradivarius", "strad", "guarneri", "amati", "paganini", "caprice", "concertmaster",
        "first chair", "hardanger", "erhu", "kit violin", "perlman", "heifetz", "gypsy jazz",
        "grappelli", "bluegrass bowing",
    ),
    "strings": (
        "cello", "viola", "quartet", "string quartet", "symphony", "philharmonic",
        "orchestra", "sinfonia", "tutti", "pizzicato", "spiccato", "divisi", "bowed",
        "film score", "cinematic", "vivaldi", "four seasons", "yo-yo ma",
    ),
    "brass": (
        "trumpets", "trombones", "mariachi", "cornet", "flugelhorn", "flugel", "bugle",
        "tuba", "sousaphone", "euphonium", "french horn", "baritone horn", "mellophone",
        "sackbut", "fanfare", "big band", "horn section", "brass band", "second line",
        "miles davis", "dizzy gillespie", "gillespie", "satchmo", "louis armstrong",
        "herb alpert", "harmon mute", "tower of power",
    ),
    "saxophone": (
        "saxes", "saxophones", "alto", "tenor", "soprano", "baritone", "bari", "selmer",
        "mark vi", "yanagisawa", "coltrane", "charlie parker", "bebop", "sonny rollins",
        "kenny g", "reed", "reeds", "honker", "honking", "clarinet", "oboe",
        "english horn", "cor anglais", "bassoon", "contrabassoon", "saxman", "parker",
    ),
    "flute": (
        "piccolo", "fife", "recorder", "tin whistle", "penny whistle", "pennywhistle",
        "whistle", "irish whistle", "pan flute", "panpipes", "pan pipes", "pan-pipes",
        "shakuhachi", "bansuri", "dizi", "ney", "quena", "ocarina", "jethro tull",
        "ian anderson", "woodwind", "woodwinds", "flautist", "flutist", "fipple",
    ),
    "synth_lead": (
        "minimoog", "moog", "mini moog", "arp odyssey", "arp 2600", "arp", "odyssey",
        "ms-20", "sh-101", "tb-303", "303", "acid", "squelch", "squelchy", "chiptune",
        "bleeps", "bleep", "8-bit", "8 bit", "game boy", "gameboy", "nes", "theremin",
        "sawtooth", "saw wave", "square wave", "supersaw", "monosynth", "keytar", "wub",
        "wobble", "vangelis", "squeal",
    ),
    "synth_pad": (
        "juno", "juno-60", "juno-106", "jupiter-8", "jupiter", "prophet", "prophet-5",
        "oberheim", "ob-x", "cs-80", "dx7", "polysynth", "poly synth", "wash", "shimmer",
        "shimmering", "swell", "drone", "soundscape", "string machine", "solina",
        "mellotron", "vaporwave", "eno", "brian eno",
    ),
    "choir": (
        "choristers", "chorister", "chorus", "chorale", "gospel", "singers", "monks",
        "chant", "chanting", "gregorian", "a cappella", "acapella", "satb", "sopranos",
        "altos", "tenors", "glee club", "carolers", "carollers", "hymn", "madrigal",
        "vocalists", "aahs", "oohs", "requiem", "boys choir",
    ),
    "drums": (
        "808", "tr-909", "909", "linndrum", "linn", "mpc", "sp-1200", "breakbeat",
        "amen break", "ludwig", "four-piece", "five-piece", "pearl", "tama", "kick",
        "snare", "hi-hat", "hihat", "hi hat", "hats", "cymbals", "toms", "rimshot",
        "backbeat", "bongos", "congas", "cajon", "djembe", "timbales", "taiko", "tabla",
        "drummer", "bonham", "ringo", "questlove", "four on the floor", "trap",
    ),
}  # fmt: skip

# Words that already name a family near a matched name: "Hammond organ", "Strat guitar",
# "upright piano" need nothing added (any of these within the next two words skips it).
_NAMED = frozenset(
    [
        "piano",
        "pianos",
        "organ",
        "organs",
        "guitar",
        "guitars",
        "bass",
        "basses",
        "violin",
        "violins",
        "fiddle",
        "fiddles",
        "strings",
        "string",
        "brass",
        "horns",
        "horn",
        "saxophone",
        "sax",
        "flute",
        "flutes",
        "synth",
        "synths",
        "synthesizer",
        "lead",
        "pad",
        "pads",
        "choir",
        "choirs",
        "voice",
        "voices",
        "vocal",
        "vocals",
        "choral",
        "drums",
        "drum",
        "kit",
        "percussion",
    ]
)


# Before a guitar name, these make it the distorted one ("metal axe", "high-gain Les Paul").
_DISTORTION = frozenset(
    [
        "fuzz",
        "fuzzy",
        "fuzzed",
        "metal",
        "heavy",
        "distorted",
        "overdriven",
        "crunchy",
        "dirty",
        "gnarly",
        "grunge",
        "high-gain",
        "shredding",
        "screaming",
        "cranked",
    ]
)
_GUITARS = ("electric_guitar", "distorted_guitar")
# After a name: "Kenny G-style", "Hendrix-like", "Coltrane-esque".
_SUFFIX = r"(?:'s|s)?(?:-(?:style|like|esque|type|inspired))?"


@lru_cache(maxsize=1)
def _pattern() -> tuple[re.Pattern[str], dict[str, str]]:
    owner = {name: family for family, names in NAMES.items() for name in names}
    alternation = "|".join(re.escape(n) for n in sorted(owner, key=len, reverse=True))
    # Whole words only, with an optional plural, possessive or "-style" ("Strats", "Moog's").
    pattern = re.compile(rf"(?<![\w-])({alternation}){_SUFFIX}(?![\w-])", re.IGNORECASE)
    return pattern, owner


def family_of(name: str) -> str | None:
    """The family a name belongs to (``"Strat"`` -> ``"electric_guitar"``), None if unknown."""
    _, owner = _pattern()
    return owner.get(name.strip().lower())


def expand_names(text: str) -> str:
    """``text`` with the family words added after every instrument name it uses.

    "a Minimoog melody over 808s" -> "a Minimoog synth lead melody over 808s drums". Names
    next to each other (at most one word between) are one instrument, named after the last:
    "Juno wash", "Ludwig four-piece"; a guitar among them, or after a distortion word, that
    is distorted makes it the distorted guitar ("fuzz axe", "metal axe"). A name followed
    within two words by a word that names an instrument ("Hammond organ"), right after one
    ("choir aahs") or holding one ("upright bass") is left as it is.
    """
    pattern, owner = _pattern()
    # The words once, with where they start and end: every look around a name below is an
    # index into them, so the work stays linear in the prompt's length.
    spans = [(m.start(), m.end(), m.group().lower()) for m in re.finditer(r"[\w-]+", text)]
    starts = [start for start, _, _ in spans]
    groups: list[list[re.Match[str]]] = []
    for match in pattern.finditer(text):
        if groups and _word_count(starts, spans, groups[-1][-1].end(), match.start()) <= 1:
            groups[-1].append(match)
        else:
            groups.append([match])
    out: list[str] = []
    last = 0
    for group in groups:
        families = [owner[m.group(1).lower()] for m in group]
        family = families[-1]
        first = bisect.bisect_left(starts, group[0].start())  # the group's first word
        end = group[-1].end()
        after = bisect.bisect_left(starts, end)  # the first word after the group
        before = [w for _, _, w in spans[max(first - 2, 0) : first]]
        if family in _GUITARS and (
            "distorted_guitar" in families or any(w in _DISTORTION for w in before)
        ):
            family = "distorted_guitar"
        near = before[-1:] + [w for _, _, w in spans[first : after + 2]]
        if any(w in _NAMED for w in near):
            continue
        out.append(text[last:end] + " " + FAMILY_WORDS[family])
        last = end
    if not out:
        return text
    return "".join(out) + text[last:]


def _word_count(starts: list[int], spans: list[tuple[int, int, str]], lo: int, hi: int) -> int:
    """How many of the words ``spans`` lie wholly within ``text[lo:hi]``."""
    i, j = bisect.bisect_left(starts, lo), bisect.bisect_left(starts, hi)
    return sum(1 for k in range(i, j) if spans[k][1] <= hi)
