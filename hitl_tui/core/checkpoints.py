"""Signed audit checkpoints: Ed25519 statements of (database, size, head hash).

The signing key is not the database key: it lives in its own 0600 file (one per database, under
the data directory, or HITL_SIGNING_KEY_FILE). Someone holding only the database key can rewrite
the whole chain consistently, but cannot sign a checkpoint for it; a checkpoint kept outside the
database (`hitl-tui checkpoint -o FILE`) then exposes the rewrite.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .audit import iso, utc_now
from .errors import CheckpointError
from .models import Checkpoint
from .paths import signing_key_dir

FORMAT = "hitl-tui-checkpoint/1"
_DOMAIN = b"hitl-tui audit checkpoint v1\n"


def checkpoint_message(database_id: str, size: int, head_hash: str, created_at: datetime) -> bytes:
    return _DOMAIN + f"{database_id}\n{size}\n{head_hash}\n{iso(created_at)}\n".encode()


@dataclass
class Signer:
    """Holds an Ed25519 private key; cryptography is imported only when signing is needed."""

    private_bytes: bytes
    path: Path | None = None

    def _key(self):
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return Ed25519PrivateKey.from_private_bytes(self.private_bytes)

    @property
    def public_hex(self) -> str:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        return self._key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()

    def sign(self, database_id: str, size: int, head_hash: str) -> Checkpoint:
        created = utc_now()
        sig = self._key().sign(checkpoint_message(database_id, size, head_hash, created))
        return Checkpoint(size=size, head_hash=head_hash, created_at=created, database_id=database_id,
                          public_key=self.public_hex, signature=sig.hex())


def signature_valid(cp: Checkpoint) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(cp.public_key))
        key.verify(bytes.fromhex(cp.signature),
                   checkpoint_message(cp.database_id, cp.size, cp.head_hash, cp.created_at))
    except (InvalidSignature, ValueError):
        return False
    return True


def signing_key_path(database_id: str) -> Path:
    env = os.environ.get("HITL_SIGNING_KEY_FILE")
    if env:
        return Path(env).expanduser()
    return signing_key_dir() / f"{database_id}.ed25519"


def load_signer(database_id: str, *, create: bool) -> Signer | None:
    """This account's signing key for the database; a new one when `create` and none exists."""
    path = signing_key_path(database_id)
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise CheckpointError(f"Signing key {path} is readable by others (mode {mode:o}); run `chmod 600 {path}`.")
        raw = path.read_bytes().strip()
        try:
            private = bytes.fromhex(raw.decode())
        except (ValueError, UnicodeDecodeError):
            private = b""
        if len(private) != 32:
            raise CheckpointError(f"Signing key {path} is not a 32-byte Ed25519 key in hex.")
        return Signer(private, path)
    if not create:
        return None
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    private = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:  # another process won the race: use theirs
        return load_signer(database_id, create=False)
    with os.fdopen(fd, "w") as fh:
        fh.write(private.hex() + "\n")
    return Signer(private, path)


def checkpoint_to_json(cp: Checkpoint) -> dict:
    return {
        "format": FORMAT, "database_id": cp.database_id, "size": cp.size, "head_hash": cp.head_hash,
        "created_at": iso(cp.created_at), "public_key": cp.public_key,
        "fingerprint": cp.fingerprint, "signature": cp.signature,
    }


def checkpoint_from_json(data: dict, where: str = "checkpoint") -> Checkpoint:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{where} is not a hitl-tui checkpoint (format {FORMAT!r} expected).")
    try:
        cp = Checkpoint(size=int(data["size"]), head_hash=str(data["head_hash"]),
                        created_at=datetime.fromisoformat(data["created_at"]),
                        database_id=str(data["database_id"]), public_key=str(data["public_key"]),
                        signature=str(data["signature"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{where} is incomplete or malformed ({exc}).") from None
    if not signature_valid(cp):
        raise CheckpointError(f"{where}: the signature does not verify; the checkpoint was altered or forged.")
    return cp


def write_checkpoint_file(cp: Checkpoint, path: Path) -> None:
    text = json.dumps(checkpoint_to_json(cp), indent=2) + "\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def read_checkpoint_file(path: Path) -> Checkpoint:
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"Checkpoint file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"Cannot read checkpoint file {path}: {exc}") from None
    return checkpoint_from_json(data, f"Checkpoint file {path}")
