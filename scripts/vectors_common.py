"""What every part of docs/vectors/ shares (scripts/make_vectors.py writes them): the database id,
the clock's start, the session context, and Ed25519 keys from fixed seeds, so every run makes
the same bytes. Importing it puts the repository first on sys.path, for hitl_tui."""

from __future__ import annotations

import base64
import hashlib
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat  # noqa: E402

from hitl_tui.core import signatures  # noqa: E402
from hitl_tui.core.audit import AuditContext  # noqa: E402

DATABASE_ID = "0123456789abcdef0123456789abcdef"
START = datetime(2026, 12, 1, 9, 0, 0, tzinfo=timezone.utc)
WF = "WF-1764579600-0042"
CTX = AuditContext(session_id="5e55105e55105e55105e55105e551050", os_login="ann", tty="/dev/pts/3",
                   remote_addr="192.0.2.10")


def seed_key(name: str) -> Ed25519PrivateKey:
    """A fixed key: the private key is sha256 of its name (for vectors only, obviously)."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"hitl-tui test vector key: {name}".encode()).digest())


def raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


KEYS = {name: seed_key(name) for name in ("ann.admin", "sarah.manager", "sarah.manager#2", "john.doe",
                                           "mike.director", "checkpoint", "mallory")}


def key_fields(name: str) -> dict[str, str]:
    raw = raw_public(KEYS[name])
    return {"public_key": signatures.public_key_text(raw), "key_id": signatures.key_id(raw)}
