"""Shared by the key tests: fixed keys and writing a key file with a given mode."""

from __future__ import annotations

import os

KEY = bytes(range(32))
OTHER = bytes(range(100, 132))


def write_key_file(path, data: bytes, mode=0o600):
    path.write_bytes(data)
    os.chmod(path, mode)
    return path
