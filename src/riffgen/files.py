"""File helpers shared by every command: outputs appear whole, together, or not at all.

Temporaries live beside their final path (so the last step is a same-filesystem rename),
are hidden, keep the final suffix (writers that pick a format by extension still work) and
carry the writer's process id: ``.out.<pid>-<random>.wav`` for ``out.wav``. A run killed
with SIGKILL cannot clean up, so the next run writing the same output removes the
temporaries of processes that no longer exist (:func:`remove_stale_temporaries`).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from riffgen.errors import RiffgenError

# Read once at import (os.umask can only be read by setting it, which is not thread-safe).
_UMASK = os.umask(0o022)
os.umask(_UMASK)

# Signals that must not split a commit into "some outputs renamed, the rest not".
_COMMIT_SIGNALS = {signal.SIGINT, signal.SIGTERM}

PathLike = str | os.PathLike[str]


def _make_temp(final: Path) -> Path:
    """An empty hidden temporary beside ``final``, named after it and this process."""
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        prefix=f".{final.stem}.{os.getpid()}-", suffix=final.suffix, dir=final.parent
    )
    os.close(fd)
    return Path(name)


def _publish_mode(tmp: Path) -> None:
    """mkstemp makes 0600 files: give outputs the usual umask mode."""
    if tmp.is_file():
        tmp.chmod(0o666 & ~_UMASK)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temporaries(path: PathLike) -> list[Path]:
    """Remove temporaries for ``path`` left by processes that are gone (e.g. SIGKILLed).

    Matches this module's names (``.out.<pid>-*``) and those derived from them by writers
    that add their own temporary beside ours (``..out.<pid>-*``). Temporaries of a live
    process (another run writing the same output right now) are left alone.
    """
    final = Path(path)
    pattern = re.compile(rf"^\.+{re.escape(final.stem)}\.(\d+)-")
    removed = []
    try:
        entries = list(final.parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = pattern.match(entry.name)
        if match is None or _pid_alive(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            entry.unlink()
            removed.append(entry)
    return removed


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    On any error (KeyboardInterrupt included) the temporary is removed. Library writers
    use it for one file among many, so it does not scan the folder for stale temporaries.
    """
    with atomic_outputs([path], clean_stale=False) as (tmp,):
        yield tmp


def check_output_paths(paths: Iterable[PathLike]) -> list[Path]:
    """The outputs as paths; refuses duplicates and existing directories (before any work)."""
    finals = [Path(p) for p in paths]
    seen: dict[str, Path] = {}
    for final in finals:
        key = os.path.normcase(os.path.abspath(final))
        if key in seen:
            raise RiffgenError(f"two outputs would be the same file: {seen[key]} and {final}")
        seen[key] = final
        if final.is_dir():
            raise RiffgenError(f"output {final} is a directory")
    return finals


def refuse_overwriting_inputs(
    outputs: Iterable[PathLike], inputs: Iterable[PathLike | None], *, overwrite: bool = False
) -> None:
    """Raise when an output would replace an input file (unless ``overwrite``)."""
    if overwrite:
        return
    existing = [Path(p) for p in inputs if p is not None and Path(p).is_file()]
    for out in map(Path, outputs):
        for src in existing:
            if out.exists() and os.path.samefile(out, src):
                raise RiffgenError(
                    f"output {out} is the input {src}: choose another output or add --overwrite"
                )


@contextlib.contextmanager
def atomic_outputs(paths: Iterable[PathLike], *, clean_stale: bool = True) -> Iterator[list[Path]]:
    """Temporaries for ``paths``, renamed into place together when the block succeeds.

    On an error inside the block every temporary is removed and no output changes. The
    renames at the end run with SIGINT/SIGTERM held back; if one fails (a disk error, the
    path became a directory), the outputs already renamed are put back as they were (the
    previous file, or nothing), so the set appears whole or not at all.
    """
    finals = check_output_paths(paths)
    for final in finals:
        remove_stale_temporaries(final)
    temps: list[Path] = []
    try:
        for final in finals:
            temps.append(_make_temp(final))
        yield temps
        with _signals_held():
            _commit(temps, finals)
    finally:
        for tmp in temps:
            with contextlib.suppress(OSError):
                tmp.unlink()


def _commit(temps: list[Path], finals: list[Path]) -> None:
    done: list[tuple[Path, Path | None]] = []
    try:
        for tmp, final in zip(temps, finals, strict=True):
            _publish_mode(tmp)
            backup = _backup(final)
            try:
                os.replace(tmp, final)
            except BaseException:
                if backup is not None:
                    backup.unlink(missing_ok=True)
                raise
            done.append((final, backup))
    except BaseException:
        for final, backup in reversed(done):
            with contextlib.suppress(OSError):
                if backup is not None:
                    os.replace(backup, final)
                else:
                    final.unlink()
        raise
    for _, backup in done:
        if backup is not None:
            with contextlib.suppress(OSError):
                backup.unlink()


def _backup(final: Path) -> Path | None:
    """A hard link to the file ``final`` replaces, so a failed commit can restore it."""
    if not final.is_file():
        return None
    backup = _make_temp(final)
    backup.unlink()
    try:
        os.link(final, backup)
    except OSError:  # no hard links here: a failed commit removes instead of restoring
        return None
    return backup


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Delay SIGINT/SIGTERM until the block ends (POSIX main thread; elsewhere a no-op)."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not (
        threading.main_thread()
    ):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _COMMIT_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
