"""Key and secret files: created once, atomically, by whichever process gets there first.

Several server workers start at the same moment and each may find a key missing. The file is written to a
0600 temporary name, fsynced, hard-linked into place (``link`` never overwrites) and its directory fsynced:
a concurrent reader sees no file or the whole file, and the loser of the race reads the winner's key.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

_STREAMED: dict[Path, bytes] = {}
"""Secrets read from a file descriptor or pipe (``/dev/fd/N``), which can be read only once per process."""


def read_secret(path: Path) -> bytes:
    """The bytes of a key file. A regular file is read each time (a rotated key is seen on the next read);
    anything else (``/dev/fd/N``, a pipe the key was written to) is read once and kept in this process's
    memory, since its content is gone after the first read. Raises what ``open`` raises (FileNotFoundError...).
    """
    if path in _STREAMED:
        return _STREAMED[path]
    with path.open("rb") as handle:
        content = handle.read()
        if stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return content
    _STREAMED[path] = content
    return content


def create_private_file(path: Path, content: bytes) -> None:
    """Create ``path`` (mode 0600) holding ``content``, durably; FileExistsError if it already exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)
    finally:
        os.unlink(temporary)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def replace_private_file(path: Path, content: bytes) -> None:
    """Write ``path`` (mode 0600) to hold ``content``, atomically and durably, replacing any old file.

    A temporary file in the same directory is fsynced then renamed over ``path`` (``rename`` is atomic),
    and the directory is fsynced: after a crash the file holds the old or the new content, whole.
    """
    replace_private_file_from(path, (content,))


def replace_private_file_from(path: Path, chunks: Iterable[bytes]) -> None:
    """:func:`replace_private_file` for content produced piece by piece (memory does not grow with the file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory_path: Path) -> None:
    directory = os.open(directory_path, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def ensure_private_file(path: Path, make_content: Callable[[], bytes]) -> bytes:
    """The bytes of ``path``, creating it from ``make_content()`` first if it does not exist.

    When several processes race, exactly one file is created and every caller returns its bytes.
    """
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another process created it first: use theirs
            create_private_file(path, make_content())
    return path.read_bytes()
