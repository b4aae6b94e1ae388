"""Signed audit checkpoints: Ed25519 statements of (database, size, head hash).

The signing key is not the database key: it lives in its own 0600 file (one per database, under
the data directory, or the signing_key_file setting: HITL_SIGNING_KEY_FILE or the config file).
Someone holding only the database key can rewrite the whole chain consistently, but cannot sign a
checkpoint for it; a checkpoint kept outside the database (`hitl-tui checkpoint -o FILE`) then
exposes the rewrite.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .audit import GENESIS, iso, utc_now
from .errors import CheckpointError
from .models import Checkpoint
from .paths import signing_key_dir
from .safe_files import replace_file, write_new_file

if TYPE_CHECKING:
    from .settings import Settings

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


def signing_key_path(database_id: str, settings: "Settings | None" = None) -> Path:
    """The signing_key_file setting, else one file per database in the data directory."""
    from .settings import given_or_loaded

    return given_or_loaded(settings).signing_key_file or signing_key_dir() / f"{database_id}.ed25519"


def load_signer(database_id: str, *, create: bool, settings: "Settings | None" = None) -> Signer | None:
    """This account's signing key for the database; a new one when `create` and none exists.

    A new key is written all or nothing (safe_files.write_new_file: temp file, fsync, hard link), so a
    kill or a full disk never leaves an empty key file behind, and an existing key is never
    overwritten, even by another process creating one at the same moment. `settings` name the
    key file (default: this process's settings)."""
    path = signing_key_path(database_id, settings)
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise CheckpointError(f"Signing key {path} is readable by others (mode {mode:o}); run `chmod 600 {path}`.")
        raw = path.read_bytes()
        if not raw and create and _replace_empty_key(path):
            return load_signer(database_id, create=False, settings=settings)
        try:
            private = bytes.fromhex(raw.strip().decode())
        except (ValueError, UnicodeDecodeError):
            private = b""
        if len(private) != 32:
            state = "is empty" if not raw else "is not a 32-byte Ed25519 key in hex (it may have been cut short)"
            raise CheckpointError(
                f"Signing key {path} {state}: its creation was interrupted or the file was damaged. Move it "
                f"aside (`mv {path} {path}.damaged`); a new key is made at the next checkpoint, and "
                f"checkpoints it signed still verify by the public key stored with them.")
        return Signer(private, path)
    if not create:
        return None
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        write_new_file(path, _new_private_key().hex().encode() + b"\n", crash_label="signing_key")
    except FileExistsError:  # another process won the race: use theirs
        pass
    return load_signer(database_id, create=False, settings=settings)


def _new_private_key() -> bytes:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    return Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def _replace_empty_key(path: Path) -> bool:
    """An EMPTY signing key file is what an older hitl-tui left when it was killed (or the disk
    filled) between creating the file and writing it. Replacing it is safe: an empty file never
    held a key, so no checkpoint was ever signed by it and nothing that verifies today can stop
    verifying. (A non-empty damaged file is another matter: it may have signed checkpoints, so
    it is never replaced automatically; load_signer says how to move it aside.)

    Under an exclusive flock on the empty file, so that two processes doing this at once make
    one key, not two: the second one finds the path no longer names the inode it locked, and
    uses the key the first one wrote. Returns False when it could not replace the file."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        st = os.fstat(fd)
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        if current is None or (current.st_dev, current.st_ino) != (st.st_dev, st.st_ino):
            return True  # someone replaced it while we waited: use theirs
        if st.st_size != 0:
            return False
        try:
            replace_file(path, _new_private_key().hex().encode() + b"\n")
        except OSError:
            return False
        return True
    finally:
        os.close(fd)


def trusted_start(conn, database_id: str, signer: Signer) -> tuple[int, bytes, str | None]:
    """Where sealing may start verifying: (size, head, problem) of the newest checkpoint stored in
    the database whose signature verifies with THIS account's key (nobody else can make one),
    after checking that the entry at its size still hashes to its head. (0, genesis, None) when
    there is none: the whole chain must be verified. A problem names how the chain differs from
    what this account signed before (then size is the bad entry's number); nothing may be signed."""
    public = signer.public_hex
    rows = conn.execute(
        "SELECT size, head_hash, created_at, signature FROM checkpoints WHERE public_key = ? ORDER BY id DESC",
        (public,)).fetchall()
    for size, head_hash, created_at, signature in rows:
        try:
            cp = Checkpoint(size=size, head_hash=head_hash, created_at=datetime.fromisoformat(created_at),
                            database_id=database_id, public_key=public, signature=signature)
        except (ValueError, TypeError):
            continue
        if not signature_valid(cp):
            continue  # a row forged in our name vouches for nothing: look further back
        if size == 0:
            return 0, GENESIS, None
        found = dict(conn.execute("SELECT seq, CAST(hash AS BLOB) FROM audit_log WHERE seq IN (?, ?)",
                                  (size - 1, size)).fetchall())
        body = conn.execute("SELECT CAST(body AS BLOB) FROM audit_log WHERE seq = ?", (size,)).fetchone()
        if body is None or size not in found:
            return size, GENESIS, (f"entry {size} is missing, yet this account signed a checkpoint of {size} "
                                f"entries: the chain was truncated")
        prev = GENESIS if size == 1 else bytes(found.get(size - 1) or b"")
        head = bytes.fromhex(head_hash)
        if hashlib.sha256(prev + bytes(body[0])).digest() != head or bytes(found[size]) != head:
            return size, GENESIS, (f"entry {size} differs from the checkpoint this account signed at that "
                                f"size: the chain was rewritten")
        return size, head, None
    return 0, GENESIS, None


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
