"""Writing outputs without ever destroying an input or leaving a half-written file or folder behind.

- ``check_output_path``: refuse an output path that is (or, for a folder, holds) one of the inputs,
  symbolic and hard links included, and one that cannot be written, before any work starts.
- ``atomic_file``: a text file written beside its final path and renamed into place.
- ``replaced_folder``: an output folder built in a sibling staging folder and swapped in at the end
  (one atomic exchange on Linux; elsewhere two renames, undone by the next run if it is killed between
  them), so the folder holds either the previous complete run or the new one.
"""

from __future__ import annotations

import ctypes
import errno
import os
import secrets
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Collection, Iterable, Iterator, TextIO

from ..errors import OutputPathError

_PARTIAL = "partial"
_PREVIOUS = "previous"


def check_output_path(
    path: Path | None,
    *,
    option: str,
    inputs: Iterable[tuple[str, Path | str | None]],
    folder: bool = False,
) -> None:
    """Raise ``OutputPathError`` when writing ``path`` would overwrite or remove an input, or cannot work.

    ``inputs`` are (what the user called it, path) pairs, e.g. ``("--pred", Path("p.nii.gz"))``; a
    ``folder`` output is replaced as a whole, so it must not hold any input either.
    """
    if path is None:
        return
    path = Path(path)
    target = _resolved(path)
    for label, given in inputs:
        if given is None or str(given) == "":
            continue
        source = _resolved(Path(given))
        if source == target or _same_file(path, Path(given)):
            raise OutputPathError(
                f"{option} {path} is the input {label} {given}; writing it would destroy that input "
                "(choose another output path)"
            )
        if folder and target in source.parents:
            raise OutputPathError(
                f"{option} {path} holds the input {label} {given}; the output folder is replaced as a whole, "
                "so keep inputs outside it"
            )
    _check_writable(path, option=option, folder=folder)


@contextmanager
def atomic_file(path: Path, *, newline: str | None = None) -> Iterator[TextIO]:
    """A UTF-8 text file opened beside ``path`` and renamed onto it on success (removed on failure)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = _unique_name(path.parent, f".{path.name}.{_PARTIAL}-{os.getpid()}-")
    # os.open with 0o666 lets the umask set the permissions, as for any file the user writes.
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline=newline) as handle:
            yield handle
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def sibling(path: Path, role: str) -> Path:
    """A hidden name beside ``path`` for one of its helpers, e.g. ``.out.cache`` for ``out``."""
    path = Path(os.path.abspath(path))
    return path.parent / f".{path.name}.{role}"


@contextmanager
def replaced_folder(out: Path, *, owned_names: Collection[str]) -> Iterator[Path]:
    """Yield an empty staging folder beside ``out``; when the block finishes it replaces ``out``.

    ``out`` may be absent, or hold only entries named in ``owned_names`` (what an earlier run wrote);
    anything else there is refused rather than deleted. Staging folders of killed runs are removed, and a
    previous output set aside by a run killed mid-swap is put back, before the new run starts.
    """
    out = Path(os.path.abspath(out))
    _recover(out)
    if out.exists():
        if not out.is_dir():
            raise OutputPathError(f"{out}: exists and is not a folder")
        foreign = sorted(entry.name for entry in out.iterdir() if entry.name not in owned_names)
        if foreign:
            raise OutputPathError(
                f"{out}: holds '{foreign[0]}', which no earlier run wrote; the output folder is replaced as a "
                "whole, so give a new or empty folder (or one an earlier run wrote)"
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = _unique_name(out.parent, f".{out.name}.{_PARTIAL}-{os.getpid()}-")
    os.mkdir(staging)
    try:
        yield staging
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap_in(staging: Path, out: Path) -> None:
    if not out.exists():
        os.rename(staging, out)
        return
    if _exchange(staging, out):
        shutil.rmtree(staging, ignore_errors=True)
        return
    previous = out.parent / f".{out.name}.{_PREVIOUS}-{os.getpid()}"
    shutil.rmtree(previous, ignore_errors=True)
    os.rename(out, previous)
    os.rename(staging, out)
    shutil.rmtree(previous, ignore_errors=True)


def _recover(out: Path) -> None:
    """Undo what a killed run left beside ``out``: its staging folder, or its set-aside previous output."""
    import psutil

    if not out.parent.is_dir():
        return
    for entry in out.parent.iterdir():
        for role in (_PARTIAL, _PREVIOUS):
            prefix = f".{out.name}.{role}-"
            if not entry.name.startswith(prefix):
                continue
            pid_text = entry.name[len(prefix) :].split("-")[0]
            if pid_text.isdigit() and int(pid_text) != os.getpid() and psutil.pid_exists(int(pid_text)):
                continue
            if role == _PREVIOUS and not out.exists():
                os.rename(entry, out)
            else:
                shutil.rmtree(entry, ignore_errors=True)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_current_folder, rename_exchange = -100, 2
    if renameat2(
        at_current_folder, os.fsencode(first), at_current_folder, os.fsencode(second), rename_exchange
    ):
        code = ctypes.get_errno()
        if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EPERM):
            return False
        raise OSError(code, os.strerror(code), str(second))
    return True


def _check_writable(path: Path, *, option: str, folder: bool) -> None:
    if path.exists():
        if folder and not path.is_dir():
            raise OutputPathError(f"{option} {path}: exists and is a file, not a folder")
        if not folder and path.is_dir():
            raise OutputPathError(f"{option} {path}: is a folder; give a file name")
    # Outputs are written beside their final path and renamed, so the nearest existing folder must take files.
    ancestor = Path(os.path.abspath(path)).parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputPathError(f"{option} {path}: {ancestor} is a file, not a folder")
    try:
        with tempfile.NamedTemporaryFile(dir=ancestor, prefix=".segquality-probe-"):
            pass
    except OSError as error:
        raise OutputPathError(
            f"{option} {path}: cannot write in {ancestor} ({error.strerror or error})"
        ) from None


def _resolved(path: Path) -> Path:
    try:
        return path.expanduser().resolve()
    except (OSError, RuntimeError):
        return Path(os.path.abspath(path))


def _same_file(first: Path, second: Path) -> bool:
    """True for two names of one file (hard links included); False when either does not exist."""
    try:
        return os.path.samefile(first, second)
    except OSError:
        return False


def _unique_name(folder: Path, prefix: str) -> Path:
    """A name in ``folder`` starting with ``prefix`` that nothing uses yet."""
    while True:
        candidate = folder / f"{prefix}{secrets.token_hex(4)}"
        if not candidate.exists() and not candidate.is_symlink():
            return candidate
