"""Writing small secret files durably: all or nothing, mode 0600, fsynced, never half-written.

Key files, pending keys, salt files and signing keys all go through here (keys.py,
key_rotation.py, checkpoints.py), so a kill or a full disk at any moment leaves either no file
or the whole file, in one way everywhere.
"""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path

from hitl_tui.core.crashpoints import crash_point

# 0 where it does not exist: O_BINARY so Windows writes (and reads) the bytes as given.
O_BINARY = getattr(os, "O_BINARY", 0)

# Filesystems without hard links (FAT, some FUSE mounts) refuse os.link with one of these.
_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS}


def _create_and_fill(path: Path, data: bytes, crash_label: str | None = None) -> None:
    """O_EXCL-create `path` (0600), write all of `data` and fsync it; FileExistsError if it exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_BINARY, 0o600)
    try:
        if crash_label:
            crash_point(f"{crash_label}.after_create")
            crash_point(f"{crash_label}.before_write")
        view = memoryview(data)
        while view:  # os.write may write less than asked (a signal, a nearly full disk)
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    if crash_label:
        crash_point(f"{crash_label}.after_write")


def fsync_dir(directory: Path) -> None:
    """Make a rename/link/unlink in `directory` durable (best effort: not every OS allows it)."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _temp_beside(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


def write_new_file(path: Path, data: bytes, *, crash_label: str | None = None) -> None:
    """Create `path` (mode 0600) holding `data`, all or nothing, never over an existing file.

    The bytes go to a temp file in the same directory, are fsynced, and only then is the temp
    file hard-linked to the final name: a link, unlike a rename, fails when the name exists, so
    an existing key is never overwritten, and a kill or a full disk at any moment leaves no file
    or the whole file, never an empty or half-written one. FileExistsError if `path` exists.
    `crash_label` names the crash points passed on the way (crashpoints.py).
    """
    path = Path(path)
    tmp = _temp_beside(path)
    try:
        _create_and_fill(tmp, data, crash_label)
        try:
            os.link(tmp, path)
        except OSError as exc:
            if exc.errno not in _NO_LINKS:
                raise  # FileExistsError included
            tmp.unlink(missing_ok=True)
            _create_and_fill(path, data)  # no hard links here: O_EXCL, as before
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def replace_file(path: Path, data: bytes) -> None:
    """Atomically replace `path` (temp file + fsync + os.replace + directory fsync), mode 0600."""
    path = Path(path)
    tmp = _temp_beside(path)
    try:
        _create_and_fill(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # also a temp file cut short by a full disk
        raise
    fsync_dir(path.parent)
