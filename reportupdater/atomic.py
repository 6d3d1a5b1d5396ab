"""Replace a file atomically and durably: the one way this package writes files.

Input: a path and the bytes it should hold. Output: the file, replaced in one
rename, so a reader sees either the old content or the new, never half. The
data goes to a temp file beside the target (``.<name>.<pid>.<thread>.tmp``),
is fsynced, takes the mode of the file it replaces (a 0444 or 0600 timeline
stays so), is renamed into place, and the folder is fsynced so the rename
survives a crash. Temp files that killed processes left in a folder are
removed the first time this process writes there.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping

_TEMP_NAMES = (
    re.compile(r"\..+\.(\d+)\.\d+\.tmp"),  # as write_atomic names them
    re.compile(r"\.\.reportupdater-triage\.(\d+)\.tmp"),  # the triage cache's, until 1.0
)
_clean_folders: set[str] = set()
_clean_lock = threading.Lock()


def temp_path(path: Path) -> Path:
    """The temp file this process and thread write before replacing ``path``."""
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")


@contextmanager
def atomic_path(path: Path, *, group: str | None = None,
                xattrs: Mapping[str, bytes] | None = None, durable: bool = True
                ) -> Iterator[Path]:
    """A temp path beside ``path`` to write; on success it is fsynced, given the
    mode of the file it replaces, and renamed over ``path``.

    ``group`` sets the file's group; ``xattrs`` are extended attributes set
    where the filesystem keeps them (silently not elsewhere). ``durable=False``
    skips the fsyncs, for files whose loss costs nothing (a checksummed cache).
    If the block or the replacement fails, the old file is untouched and no
    temp file is left; OSError (LookupError for an unknown group) propagates.
    """
    remove_orphans(path.parent)
    temp = temp_path(path)
    try:
        yield temp
        fd = os.open(temp, os.O_RDONLY)
        try:
            _finish(fd, temp, path, group, xattrs, durable)
        finally:
            os.close(fd)
        os.replace(temp, path)
    finally:
        _discard(temp)
    if durable:
        fsync_folder(path.parent)


def write_atomic(path: Path, data: bytes, *, group: str | None = None,
                 xattrs: Mapping[str, bytes] | None = None, durable: bool = True
                 ) -> os.stat_result:
    """Replace the file at ``path`` with ``data`` as ``atomic_path`` does; the
    written file's stat as taken before the rename (compare it with the file's
    later to know the file is still the one written)."""
    remove_orphans(path.parent)
    temp = temp_path(path)
    try:
        with open(temp, "wb") as f:
            f.write(data)
            f.flush()
            written = _finish(f.fileno(), temp, path, group, xattrs, durable)
        os.replace(temp, path)
    finally:
        _discard(temp)
    if durable:
        fsync_folder(path.parent)
    return written


def _discard(temp: Path) -> None:
    if os.path.lexists(temp):  # the block or the replacement failed
        temp.unlink()


def _finish(fd: int, temp: Path, path: Path, group: str | None,
            xattrs: Mapping[str, bytes] | None, durable: bool) -> os.stat_result:
    """Give the temp file open as ``fd`` its attributes, mode and group; sync it."""
    for name, value in (xattrs or {}).items():  # before a 0444 mode forbids it
        try:
            os.setxattr(fd, name, value)
        except OSError:
            pass  # a filesystem without user attributes
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = None  # a new file: the umask decides, as for any other
    if mode is not None and mode != stat.S_IMODE(os.fstat(fd).st_mode):
        os.fchmod(fd, mode)
    if group:
        mode = os.fstat(fd).st_mode
        shutil.chown(temp, group=group)
        os.fchmod(fd, stat.S_IMODE(mode))  # chown may clear set-id bits
    if durable:
        os.fsync(fd)
    return os.fstat(fd)


def fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (where the filesystem can)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass  # some filesystems can't fsync a directory; the rename is still atomic


def remove_orphans(folder: Path) -> None:
    """Delete temp files that dead processes left in ``folder``.

    Each folder is scanned once per process: a run writing hundreds of files
    into one folder must not list it for every file.
    """
    with _clean_lock:
        if str(folder) in _clean_folders:
            return
        _clean_folders.add(str(folder))
    try:
        with os.scandir(folder) as entries:
            names = [e.name for e in entries if e.name.endswith(".tmp")]
    except OSError:
        return
    for name in names:
        match = next((m for m in (p.fullmatch(name) for p in _TEMP_NAMES) if m), None)
        if not match or int(match.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(match.group(1)), 0)
        except ProcessLookupError:
            (folder / name).unlink(missing_ok=True)
        except (PermissionError, OverflowError):
            pass  # alive, another user's; or no pid at all
