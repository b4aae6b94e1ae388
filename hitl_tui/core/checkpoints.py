"""Signed audit checkpoints: Ed25519 statements of (database, size, head hash).

The signing key is not the database key: it lives in its own 0600 file (one per database, under
the data directory, or the signing_key_file setting: HITL_SIGNING_KEY_FILE or the config file).
Someone holding only the database key can rewrite the whole chain consistently, but cannot sign a
checkpoint for it; a checkpoint kept outside the database (`hitl-tui checkpoint -o FILE`) then
exposes the rewrite.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .audit import GENESIS, iso, utc_now
from .errors import CheckpointError
from .models import Checkpoint
from .paths import signing_key_dir
from .safe_files import replace_file, write_new_file
from .store.audit_log import CheckpointRow
from .store.connection import Conn

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from .merkle import CompactRange
    from .settings import Settings

FORMAT = "hitl-tui-checkpoint/1"  # the older JSON statement, still verified
NOTE_FORMAT = "hitl-tui-checkpoint/2"  # JSON carrying a C2SP signed note (exports, stdout)
FORMATS = (FORMAT, NOTE_FORMAT)
_DOMAIN = b"hitl-tui audit checkpoint v1\n"
ORIGIN_PREFIX = "hitl-tui.local/"
_ED25519 = b"\x01"  # C2SP signed-note signature type
_DASH = "\u2014"  # the em dash that starts a signature line


def checkpoint_message(database_id: str, size: int, head_hash: str, created_at: datetime) -> bytes:
    return _DOMAIN + f"{database_id}\n{size}\n{head_hash}\n{iso(created_at)}\n".encode()


@dataclass
class Signer:
    """Holds an Ed25519 private key; cryptography is imported only when signing is needed."""

    private_bytes: bytes
    path: Path | None = None

    def _key(self) -> Ed25519PrivateKey:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return Ed25519PrivateKey.from_private_bytes(self.private_bytes)

    @property
    def public_hex(self) -> str:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        return self._key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()

    def sign(self, database_id: str, size: int, head_hash: str, root_hash: str) -> Checkpoint:
        """A C2SP tlog-checkpoint signed note of (size, tree root, chain head, time)."""
        created = utc_now()
        origin = ORIGIN_PREFIX + database_id
        body = note_body(origin, size, bytes.fromhex(root_hash), head_hash, created)
        sig = self._key().sign(body.encode())
        public = bytes.fromhex(self.public_hex)
        note = body + "\n" + signature_line(origin, public, sig)
        return Checkpoint(size=size, head_hash=head_hash, created_at=created, database_id=database_id,
                          public_key=self.public_hex, signature=sig.hex(), root_hash=root_hash, note=note)


# --- the C2SP tlog-checkpoint signed note (contract C) ---------------------------------------

def note_body(origin: str, size: int, root: bytes, head_hash: str, created: datetime) -> str:
    """The signed text: origin, size, base64 root, then our extension lines; ends in a newline."""
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\nchain {head_hash}\ntime {iso(created)}\n"


def key_hash(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + _ED25519 + public).digest()[:4]


def signature_line(name: str, public: bytes, sig: bytes) -> str:
    return f"{_DASH} {name} {base64.b64encode(key_hash(name, public) + sig).decode()}\n"


def verifier_key(name: str, public_hex: str) -> str:
    """The note verifier key string other tools (and witnesses) are configured with."""
    public = bytes.fromhex(public_hex)
    return f"{name}+{key_hash(name, public).hex()}+{base64.b64encode(_ED25519 + public).decode()}"


@dataclass(frozen=True)
class ParsedNote:
    body: str
    origin: str
    size: int
    root: bytes
    head_hash: str
    created_at: datetime
    #: (name, 4-byte key hash, 64-byte signature) per signature line
    signatures: tuple[tuple[str, bytes, bytes], ...]


def parse_note(text: str, where: str = "checkpoint") -> ParsedNote:
    """Parse a signed note strictly (C2SP signed-note and tlog-checkpoint); CheckpointError names
    the first thing wrong."""
    def bad(why: str) -> CheckpointError:
        return CheckpointError(f"{where} is not a valid checkpoint note: {why}.")

    if "\r" in text or not text.endswith("\n"):
        raise bad("lines must end with a single newline")
    body, sep, sigs = text.partition("\n\n")
    if not sep:
        raise bad("there is no blank line before the signatures")
    body += "\n"
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise bad("it needs origin, size and root lines")
    origin, size_text, root_text, *extensions = lines
    if not size_text.isdigit() or (size_text.startswith("0") and size_text != "0"):
        raise bad(f"the size line {size_text[:20]!r} is not a decimal number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except ValueError:
        root = b""
    if len(root) != 32 or base64.b64encode(root).decode() != root_text:
        raise bad("the root line is not 32 bytes in standard base64")
    ext = {}
    for line in extensions:
        key, _, value = line.partition(" ")
        if not line or key in ext:
            raise bad(f"extension line {line[:30]!r} is empty or repeated")
        ext[key] = value
    head, created = ext.get("chain", ""), ext.get("time", "")
    if len(head) != 64 or any(c not in "0123456789abcdef" for c in head):
        raise bad("the 'chain' line does not hold the 64-hex head hash")
    try:
        created_at = datetime.fromisoformat(created)
    except ValueError:
        raise bad("the 'time' line is not an ISO timestamp") from None
    signatures = []
    for line in sigs[:-1].split("\n"):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != _DASH:
            raise bad(f"{line[:40]!r} is not a signature line ('\u2014 NAME BASE64')")
        try:
            raw = base64.b64decode(parts[2], validate=True)
        except ValueError:
            raw = b""
        if len(raw) != 68:
            raise bad("a signature is not 4 key-hash bytes and 64 Ed25519 bytes")
        signatures.append((parts[1], raw[:4], raw[4:]))
    return ParsedNote(body, origin, int(size_text), root, head, created_at, tuple(signatures))


def checkpoint_from_note(text: str, public_keys: "list[str] | tuple[str, ...]" = (),
                         where: str = "checkpoint") -> Checkpoint:
    """The checkpoint a note states, with the signature of the first of `public_keys` (hex) whose
    key hash the note names under its origin. The signature is not verified here
    (signature_valid). CheckpointError when the note is malformed, is not a hitl-tui log's, or
    carries no signature by any of the keys."""
    parsed = parse_note(text, where)
    if not parsed.origin.startswith(ORIGIN_PREFIX) or len(parsed.origin) == len(ORIGIN_PREFIX):
        raise CheckpointError(f"{where} is a checkpoint of another log ({parsed.origin[:60]}), not of a hitl-tui database.")
    for public_hex in public_keys:
        want = key_hash(parsed.origin, bytes.fromhex(public_hex))
        for name, khash, sig in parsed.signatures:
            if name == parsed.origin and khash == want:
                return Checkpoint(size=parsed.size, head_hash=parsed.head_hash, created_at=parsed.created_at,
                                  database_id=parsed.origin[len(ORIGIN_PREFIX):], public_key=public_hex,
                                  signature=sig.hex(), root_hash=parsed.root.hex(), note=text)
    hashes = ", ".join(k.hex() for n, k, _ in parsed.signatures if n == parsed.origin) or "none"
    raise CheckpointError(f"{where} is not signed by a checkpoint key known here (its key hashes: {hashes}); "
                          f"verify it on the account that signed it.")


def signature_valid(cp: Checkpoint) -> bool:
    """The Ed25519 signature over the note (or, for the older format, its statement), and for a
    note that the fields given beside it are exactly what the note says."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(cp.public_key))
        if cp.note is None:
            key.verify(bytes.fromhex(cp.signature),
                       checkpoint_message(cp.database_id, cp.size, cp.head_hash, cp.created_at))
            return True
        parsed = parse_note(cp.note)
        if (parsed.origin, parsed.size, parsed.root.hex(), parsed.head_hash, parsed.created_at) != (
                ORIGIN_PREFIX + cp.database_id, cp.size, cp.root_hash, cp.head_hash, cp.created_at):
            return False
        want = (parsed.origin, key_hash(parsed.origin, bytes.fromhex(cp.public_key)), bytes.fromhex(cp.signature))
        if want not in parsed.signatures:
            return False
        key.verify(bytes.fromhex(cp.signature), parsed.body.encode())
    except (InvalidSignature, ValueError, CheckpointError):
        return False
    return True


def checkpoint_from_row(row: CheckpointRow, database_id: str) -> Checkpoint:
    """A row of the checkpoints table (audit_log.checkpoints) as a Checkpoint; ValueError or
    CheckpointError when it is malformed."""
    size, head_hash, created_at, public_key, signature, note = row
    if note is not None:
        cp = checkpoint_from_note(note, [public_key], "a checkpoint stored in the database")
        if (cp.size, cp.head_hash, cp.database_id) != (size, head_hash, database_id):
            raise ValueError("the checkpoint row disagrees with its note")
        return cp
    return Checkpoint(size=size, head_hash=head_hash, created_at=datetime.fromisoformat(created_at),
                      database_id=database_id, public_key=public_key, signature=signature)


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


def trusted_start(conn: Conn, database_id: str, signer: Signer) -> tuple[int, bytes, "CompactRange | None", str | None]:
    """Where sealing may start verifying: (size, head, edge, problem) of the newest checkpoint
    stored in the database whose signature verifies with THIS account's key (nobody else can make
    one) and which states a tree root, after checking that the entry at its size still hashes to
    its head and that the tree edge kept with it folds to the signed root (so the next root is
    built from signed and verified hashes only, without reading the tree). (0, genesis, empty edge, None) when there is none:
    the whole chain must be verified. A problem names how the log differs from what this account
    signed before (then size is the bad entry's number); nothing may be signed."""
    from .merkle import CompactRange
    from .store import audit_log

    public = signer.public_hex
    rows = audit_log.signed_checkpoints(conn, public)
    for row in rows:
        try:
            cp = checkpoint_from_row(row[:6], database_id)
            text = str(row[6] or "")
            edge = CompactRange(cp.size, [bytes.fromhex(text[i:i + 64]) for i in range(0, len(text), 64)])
        except (ValueError, TypeError, CheckpointError):
            continue
        if not signature_valid(cp) or cp.root_hash is None:
            continue  # a row forged in our name vouches for nothing: look further back
        size, head_hash = cp.size, cp.head_hash
        if size == 0:
            return 0, GENESIS, CompactRange(), None
        found = audit_log.hashes_at(conn, (size - 1, size))
        body = audit_log.entry_at(conn, size)  # (bytes, workflow id)
        if body is None or size not in found:
            return size, GENESIS, None, (f"entry {size} is missing, yet this account signed a checkpoint of {size} "
                                         f"entries: the chain was truncated")
        prev = GENESIS if size == 1 else bytes(found.get(size - 1) or b"")
        head = bytes.fromhex(head_hash)
        if hashlib.sha256(prev + bytes(body[0])).digest() != head or bytes(found[size]) != head:
            return size, GENESIS, None, (f"entry {size} differs from the checkpoint this account signed at that "
                                         f"size: the chain was rewritten")
        if edge.root().hex() != cp.root_hash:
            continue  # the edge kept beside it does not fold to the signed root: it vouches for nothing
        return size, head, edge, None
    return 0, GENESIS, CompactRange(), None


def checkpoint_to_json(cp: Checkpoint) -> dict[str, Any]:
    """The checkpoint as JSON (exports' headers, `checkpoint` without -o). A note-format one
    carries the exact note; the other fields repeat what it says, for readers of the JSON."""
    data = {
        "format": FORMAT if cp.note is None else NOTE_FORMAT, "database_id": cp.database_id, "size": cp.size,
        "head_hash": cp.head_hash, "created_at": iso(cp.created_at), "public_key": cp.public_key,
        "fingerprint": cp.fingerprint, "signature": cp.signature,
    }
    if cp.note is not None:
        data.update(root_hash=cp.root_hash, verifier_key=verifier_key(ORIGIN_PREFIX + cp.database_id, cp.public_key),
                    note=cp.note)
    return data


def parse_checkpoint_json(data: object, where: str = "checkpoint") -> Checkpoint:
    """A checkpoint from its JSON form (either format); the signature is not checked here."""
    if not isinstance(data, dict) or data.get("format") not in FORMATS:
        raise CheckpointError(f"{where} is not a hitl-tui checkpoint (format {FORMAT!r} or {NOTE_FORMAT!r} expected).")
    try:
        if data["format"] == NOTE_FORMAT:
            return checkpoint_from_note(str(data["note"]), [str(data["public_key"])], where)
        return Checkpoint(size=int(data["size"]), head_hash=str(data["head_hash"]),
                          created_at=datetime.fromisoformat(data["created_at"]),
                          database_id=str(data["database_id"]), public_key=str(data["public_key"]),
                          signature=str(data["signature"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{where} is incomplete or malformed ({exc}).") from None


def checkpoint_from_json(data: object, where: str = "checkpoint") -> Checkpoint:
    cp = parse_checkpoint_json(data, where)
    if not signature_valid(cp):
        raise CheckpointError(f"{where}: the signature does not verify; the checkpoint was altered or forged.")
    return cp


def checkpoint_text(cp: Checkpoint) -> str:
    """What a checkpoint file holds: the signed note itself, or the JSON of an older checkpoint."""
    return cp.note if cp.note is not None else json.dumps(checkpoint_to_json(cp), indent=2) + "\n"


def write_checkpoint_file(cp: Checkpoint, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(checkpoint_text(cp), encoding="utf-8", newline="\n")
    os.replace(tmp, path)


def known_public_keys(database_id: str) -> list[str]:
    """Checkpoint keys that can vouch for a note about `database_id` here: this account's."""
    try:
        signer = load_signer(database_id, create=False)
    except CheckpointError:
        return []
    return [] if signer is None else [signer.public_hex]


def note_database_id(text: str) -> str | None:
    first = text.split("\n", 1)[0]
    return first[len(ORIGIN_PREFIX):] if first.startswith(ORIGIN_PREFIX) else None


def is_note(head: bytes) -> bool:
    """Does a file starting with these bytes look like one of our checkpoint notes?"""
    return head.startswith(ORIGIN_PREFIX.encode())


def read_checkpoint_file(path: Path, public_keys: "list[str] | tuple[str, ...] | None" = None) -> Checkpoint:
    """A checkpoint file of either format, its signature verified. A note names its key only by
    a 4-byte hash: it is checked against `public_keys` (hex), by default this account's key."""
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise CheckpointError(f"Checkpoint file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"Cannot read checkpoint file {path}: {exc}") from None
    where = f"Checkpoint file {path}"
    if is_note(text.encode()[:64]):
        db_id = note_database_id(text) or ""
        cp = checkpoint_from_note(text, known_public_keys(db_id) if public_keys is None else public_keys, where)
        if not signature_valid(cp):
            raise CheckpointError(f"{where}: the signature does not verify; the checkpoint was altered or forged.")
        return cp
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"Cannot read checkpoint file {path}: {exc}") from None
    return checkpoint_from_json(data, where)
