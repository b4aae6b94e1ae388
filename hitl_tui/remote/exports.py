"""The service's side of export-audit, verify-audit FILE / --since and prove (team mode).

Only the service can read the database, so it builds every export and bundle, re-runs every
check of a file against the database, and computes every proof, with core's own functions and
core's own rules (who may export: reports.check_may_export; who may see a request:
get_workflow_for), as the CONNECTION's user. The person's client receives the bytes and writes
the file on its own account. Checking an export against the database re-runs its selection, so
it needs the right to export too; a checkpoint file any member may check, as they may `verify`.
A person proves only entries of requests they may see (and those filed under no request, the
directory's and the keys', which every member may list).

A message is at most protocol.MAX_MESSAGE, so a file crosses in pieces of CHUNK bytes:

    export.start(format, filters...)  -> {"handle"}   the service starts building the export
    export.bundle()                   -> {"handle"}   ... or the auditor's bundle, as one tar stream
    transfer.read(handle, offset)     -> a piece      base64 "data", or "pending" while it is being
                                                      built; the last piece carries "result" (what
                                                      core's function returned) and closes it
    transfer.close(handle)                            a client that gives up
    upload.start(size), upload.write(handle, offset, data)   a file of the client's, to check
    verify.file(upload, path)         -> {"handle"}   ... against the database: read like an export,
                                                      its result is the file's report

and, small enough for one message each: verify.since(checkpoint), checkpoint.keys (the key a
note is checked against), checkpoints.stored, audit.seqs(workflow_id), prove.entries(seqs,
checkpoint), prove.consistency(first, second).

Why a thread per transfer: an export of a large trail verifies the whole chain and writes
hundreds of megabytes; on the one engine thread every other desk would wait for it. The engine
is thread-safe (one connection behind a lock) and every long read of an export runs on a read
connection of its own, from one snapshot, exactly as an embedded export does while other people
work; nothing here touches the event loop. Reads of a transfer never wait: a piece that is not
built yet is answered "pending", and the client asks again a little later.

A transfer belongs to the connection that started it: its handle is kept among that
connection's tickets (methods.Call.tickets) as a marker only the transfer's finaliser watches,
so when the connection goes (and with it the tickets) the transfer stops at once, and its files
are removed at the next transfer call; one unread for IDLE_SECONDS is closed too. Its files are
the service account's: a 0700 directory (a 0600 file, a bundle being built), removed when closed.
"""

from __future__ import annotations

import base64
import binascii
import copy
import io
import os
import secrets
import shutil
import tarfile
import tempfile
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Callable

from ..core.errors import HitlError, PermissionDenied, ValidationFailed
from . import protocol

if TYPE_CHECKING:
    from ..core.reports import ExportResult, FileReport
    from ..core.reports.evidence import Integrity
    from ..core.service import WorkflowService
    from .methods import Call, Method

#: bytes of file per message: their base64 with the JSON around it stays under MAX_MESSAGE
CHUNK = (protocol.MAX_MESSAGE - 64 * 1024) // 4 * 3
#: the largest file a client may send to be checked against the database
MAX_UPLOAD = 1 << 30
#: transfers one connection may hold at once, and transfers being built at once in the service
PER_CONNECTION = 4
BUILDING_AT_ONCE = 4
#: a transfer nobody has read for this long is closed (the service's default idle timeout)
IDLE_SECONDS = 300.0
#: how long a client waits before asking again for a piece that is still being built
RETRY_AFTER = 0.1


class TransferRefused(HitlError):
    """A transfer that cannot start or go on (unknown handle, too many at once, a bad piece)."""

    code = "transfer_refused"


class _Cancelled(HitlError):
    code = "transfer_cancelled"


class _Mark(str):
    """A transfer's entry in its connection's tickets. A str (tickets map to method names), of
    a class of its own so that the transfer can watch it: when the connection's tickets are
    dropped, the marker goes with them and the transfer is closed (weakref.finalize)."""


@dataclass(eq=False)
class Transfer:
    """One file going to a client (an export, a bundle, a report) or coming from one (upload)."""

    handle: str
    owner: str
    what: str
    directory: Path
    path: Path
    fd: int
    cond: threading.Condition = field(default_factory=threading.Condition)
    size: int = 0  # bytes written so far, all readable
    expected: int | None = None  # an upload's announced size
    done: bool = False
    error: HitlError | None = None
    result: Any = None
    progress: list[Any] | None = None
    cancelled: bool = False
    closed: bool = False
    used: float = field(default_factory=time.monotonic)
    #: closes the transfer when its connection's marker goes (see _open)
    watch: Any = None

    # --- writing (the building thread, or upload.write) ----------------------------------------

    def append(self, data: bytes) -> None:
        view = memoryview(data)
        with self.cond:  # never a write into a file that close() is closing
            if self.cancelled or self.closed:
                raise _Cancelled("The transfer was closed; nothing more is written.")
            while view:
                written = os.pwrite(self.fd, view, self.size)
                view = view[written:]
                self.size += written

    def writer(self) -> BinaryIO:
        """A buffered binary file over the transfer: what core's writers write into."""
        return io.BufferedWriter(_Sink(self), buffer_size=256 * 1024)

    def reporter(self, phase: str) -> Callable[[int, int], None]:
        def report(done: int, total: int) -> None:
            if self.cancelled:
                raise _Cancelled("The transfer was closed; nothing more is written.")
            self.progress = [phase, int(done), int(total)]
        return report

    # --- reading (transfer.read) -------------------------------------------------------------

    def piece(self, offset: int) -> dict[str, Any]:
        self.used = time.monotonic()
        with self.cond:
            size, done, error = self.size, self.done, self.error
            if error is not None:
                raise error
            if self.closed or not 0 <= offset <= size:
                raise TransferRefused(f"Offset {offset:,} is outside the {size:,} bytes built so far, or the transfer "
                                      f"was closed; nothing was sent.")
            ready = size - offset
            if ready < CHUNK and not done:  # a whole piece, or the last one: fewer, larger messages
                return {"pending": True, "offset": offset, "size": size, "retry_after": RETRY_AFTER,
                        "progress": self.progress}
            data = os.pread(self.fd, min(CHUNK, ready), offset) if ready else b""
        answer: dict[str, Any] = {"pending": False, "offset": offset, "size": size, "done": done,
                                  "data": base64.b64encode(data).decode("ascii"), "progress": self.progress}
        if done and offset + len(data) == size:
            answer["result"] = self.result
        return answer

    def close(self) -> None:
        with self.cond:
            if self.closed:
                return
            self.closed = self.cancelled = True
            try:
                os.close(self.fd)
            except OSError:
                pass
        shutil.rmtree(self.directory, ignore_errors=True)


class _Sink(io.RawIOBase):
    def __init__(self, transfer: Transfer) -> None:
        self._transfer = transfer

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        raw = bytes(data)
        self._transfer.append(raw)
        return len(raw)


# --- the transfers of every connection ---------------------------------------------------------

_LOCK = threading.Lock()
_TRANSFERS: dict[str, Transfer] = {}
#: transfers whose connection went: closed at the next transfer call (a finaliser may run in
#: any thread, at any allocation, so it only marks; deque.append needs no lock)
_GONE: deque[str] = deque()


def _open(call: "Call", what: str) -> Transfer:
    _sweep()
    mine = [h for h, m in call.tickets.items() if isinstance(m, _Mark) and h in _TRANSFERS]
    if len(mine) >= PER_CONNECTION:
        raise TransferRefused(f"This connection already holds {PER_CONNECTION} transfers, the limit; finish or "
                              f"close one first.")
    with _LOCK:
        building = sum(1 for t in _TRANSFERS.values() if not t.done and t.what != "upload")
        if what != "upload" and building >= BUILDING_AT_ONCE:
            raise TransferRefused(f"The service is building {BUILDING_AT_ONCE} exports at once, its limit; "
                                  f"try again in a moment.")
        directory = Path(tempfile.mkdtemp(prefix="hitl-transfer-"))  # 0700, the service account's
        path = directory / "file"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        transfer = Transfer(secrets.token_urlsafe(18), call.username, what, directory, path, fd)
        _TRANSFERS[transfer.handle] = transfer
    mark = _Mark(what)
    call.tickets[transfer.handle] = mark
    transfer.watch = weakref.finalize(mark, _gone, transfer)
    return transfer


def _gone(transfer: Transfer) -> None:
    transfer.cancelled = True  # a transfer being built stops at its next write
    _GONE.append(transfer.handle)


def _forget(handle: str, why: str) -> None:
    with _LOCK:
        transfer = _TRANSFERS.pop(handle, None)
    if transfer is not None:
        transfer.watch.detach()
        transfer.close()
        _log(f"{transfer.what} {handle[:8]} of {transfer.owner} closed: {why}")


def _sweep() -> None:
    while _GONE:
        _forget(_GONE.popleft(), "the connection went")
    now = time.monotonic()
    with _LOCK:
        idle = [h for h, t in _TRANSFERS.items() if now - t.used > IDLE_SECONDS]
    for handle in idle:
        _forget(handle, f"not read for {IDLE_SECONDS:g} s")


def _mine(call: "Call", handle: str, what: tuple[str, ...] | None = None) -> Transfer:
    """The transfer `handle` of this connection (a handle is no use on another one)."""
    _sweep()
    with _LOCK:
        transfer = _TRANSFERS.get(handle)
    if transfer is None or not isinstance(call.tickets.get(handle), _Mark) or transfer.owner != call.username \
            or (what is not None and transfer.what not in what):
        raise TransferRefused("No such transfer on this connection (it finished, was closed or belongs to another "
                              "connection); start it again.")
    return transfer


def _close(call: "Call", transfer: Transfer, why: str) -> None:
    _forget(transfer.handle, why)  # first: dropping the ticket then finds its watch detached
    call.tickets.pop(transfer.handle, None)


def _adopt(call: "Call", upload: Transfer) -> None:
    """Take an upload off its connection's books: the check that reads it closes it."""
    with _LOCK:
        _TRANSFERS.pop(upload.handle, None)
    upload.watch.detach()
    call.tickets.pop(upload.handle, None)


def _build(transfer: Transfer, work: Callable[[BinaryIO], Any]) -> None:
    """Run `work(out)` on a thread of its own; its result (or refusal) ends the transfer."""

    def run() -> None:
        result: Any = None
        error: HitlError | None = None
        try:
            with transfer.writer() as out:
                result = work(out)
        except HitlError as exc:
            error = exc
        except Exception as exc:  # noqa: BLE001 - a bug is one line to the client, never a dead service
            if transfer.cancelled:  # its file was closed under it: nobody is waiting for it any more
                _forget(transfer.handle, "its connection went or it was closed")
                return
            from .server import _where

            _log(f"{transfer.what} {transfer.handle[:8]} of {transfer.owner}: unexpected {type(exc).__name__} "
                 f"({_where(exc)})", "error")
            error = HitlError(f"The service failed unexpectedly while building the {transfer.what} "
                              f"({type(exc).__name__}); its log says where. Nothing was kept.")
        with transfer.cond:
            transfer.done, transfer.result, transfer.error = True, result, error
        if transfer.cancelled:
            _forget(transfer.handle, "its connection went or it was closed")
        elif error is None:
            built = "done" if transfer.what == "check" else f"built, {transfer.size:,} bytes"
            _log(f"{transfer.what} {transfer.handle[:8]} of {transfer.owner}: {built}")

    threading.Thread(target=run, name=f"hitl-{transfer.what}", daemon=True).start()


def _log(text: str, level: str = "info") -> None:
    from .server import log

    log(level, text)


# --- exports -------------------------------------------------------------------------------------

def _integrity(integrity: "Integrity") -> dict[str, Any]:
    cp = integrity.checkpoint
    return {"verification": integrity.verification.model_dump(mode="json"),
            "checkpoint": None if cp is None else cp.model_dump(mode="json"), "note": integrity.note,
            "stop": integrity.stop}


def _exported(result: "ExportResult") -> dict[str, Any]:
    return {"integrity": _integrity(result.integrity), "header": result.header, "trailer": result.trailer}


def _seen_by(service: "WorkflowService", timezone: str | None) -> "WorkflowService":
    """The engine as the person's own session would judge their export: in THEIR time zone
    setting (working hours are judged in it, flags.session_zone), as their embedded export is.
    A shallow copy with other settings only; everything else is the service's own objects."""
    if service.settings.timezone == timezone:
        return service
    view = copy.copy(service)
    view.settings = service.settings.with_values(timezone=timezone, given_by="the client's timezone setting")
    return view


def _export_start(call: "Call") -> dict[str, Any]:
    from ..core.reports import ExportFilter, check_may_export, export_audit

    p, service, me = call.params, call.service, call.username
    check_may_export(service, me)  # refused here, before anything is built
    filt = ExportFilter.build(service.policy, since=p["since"], until=p["until"],
                              workflow_ids=_texts(p, "workflow_ids"), workflow_types=_texts(p, "workflow_types"),
                              actors=_texts(p, "actors"))
    engine = _seen_by(service, p["timezone"])
    transfer = _open(call, "export")
    _build(transfer, lambda out: _exported(export_audit(
        engine, p["format"], out, filt, generated_by=me, max_timelines=p["timelines"],
        progress=transfer.reporter("verify"), write_progress=transfer.reporter("write"))))
    return {"handle": transfer.handle, "chunk": CHUNK}


def _bundle_start(call: "Call") -> dict[str, Any]:
    from ..core.reports import check_may_export

    check_may_export(call.service, call.username)
    transfer = _open(call, "bundle")
    _build(transfer, lambda out: _bundle(call.service, call.username, transfer, out))
    return {"handle": transfer.handle, "chunk": CHUNK}


def _bundle(service: "WorkflowService", me: str, transfer: Transfer, out: BinaryIO) -> dict[str, Any]:
    """core's bundle, written in the transfer's own directory, then sent as one tar stream
    (POSIX pax): the client unpacks it beside its DIR and renames it into place."""
    from ..core.reports.bundle import write_bundle

    built = transfer.directory / "bundle"
    result = write_bundle(service, built, generated_by=me, progress=transfer.reporter("verify"))
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(built.rglob("*")):
            tar.add(path, arcname=path.relative_to(built).as_posix(), recursive=False)
    shutil.rmtree(built, ignore_errors=True)
    return {"integrity": _integrity(result.integrity), "entries": result.entries, "files": result.files}


def _texts(params: dict[str, Any], name: str) -> tuple[str, ...]:
    values = params[name] or []
    if not all(isinstance(v, str) for v in values):
        raise ValidationFailed(f"{name} must be a list of strings.", name)
    return tuple(values)


def _read(call: "Call") -> dict[str, Any]:
    transfer = _mine(call, call.params["handle"], ("export", "bundle", "check"))
    try:
        answer = transfer.piece(call.params["offset"])
    except HitlError:
        _close(call, transfer, "refused")
        raise
    if "result" in answer:
        _close(call, transfer, "sent")
    return answer


def _close_method(call: "Call") -> dict[str, Any]:
    try:
        transfer = _mine(call, call.params["handle"])
    except TransferRefused:
        return {"closed": False}
    _close(call, transfer, "closed by the client")
    return {"closed": True}


# --- a client's file, checked against the database ------------------------------------------------

def _upload_start(call: "Call") -> dict[str, Any]:
    size = call.params["size"]
    if not 0 <= size <= MAX_UPLOAD:
        raise TransferRefused(f"A file of {size:,} bytes is over the {MAX_UPLOAD:,} the service checks; check it "
                              f"by itself with `hitl-tui verify-audit --offline --checkpoint FILE`.")
    transfer = _open(call, "upload")
    transfer.expected = size
    return {"handle": transfer.handle, "chunk": CHUNK}


def _upload_write(call: "Call") -> dict[str, Any]:
    transfer = _mine(call, call.params["handle"], ("upload",))
    transfer.used = time.monotonic()
    if call.params["offset"] != transfer.size:
        raise TransferRefused(f"The service holds {transfer.size:,} bytes of this file, not {call.params['offset']:,}; "
                              f"send it again from the start.")
    try:
        data = base64.b64decode(call.params["data"], validate=True)
    except (binascii.Error, ValueError):
        raise TransferRefused("A piece of the file is not base64; send it again.") from None
    if transfer.size + len(data) > (transfer.expected or 0):
        raise TransferRefused(f"The file is longer than the {transfer.expected:,} bytes announced; send it again.")
    transfer.append(data)
    return {"received": transfer.size}


def _verify_file(call: "Call") -> dict[str, Any]:
    upload = _mine(call, call.params["upload"], ("upload",))
    if upload.size != upload.expected:
        raise TransferRefused(f"The service holds {upload.size:,} of the file's {upload.expected:,} bytes; send the "
                              f"rest first.")
    shown, service, me = call.params["path"], call.service, call.username
    transfer = _open(call, "check")
    _adopt(call, upload)
    _build(transfer, lambda out: _checked(service, me, upload, shown, transfer))
    return {"handle": transfer.handle}


def _checked(service: "WorkflowService", me: str, upload: Transfer, shown: str, transfer: Transfer) -> dict[str, Any]:
    """core's checks of one file, the ones by itself and the ones against the database, as
    `verify-audit --checkpoint FILE` runs them on the database's own account (whose checkpoint
    key a signed note is checked against). Messages name the client's path, not the copy's."""
    from ..core.reports import check_against_database, check_may_export, inspect_file

    try:
        try:
            rep = inspect_file(upload.path)
        except HitlError as exc:
            exc.message = exc.message.replace(str(upload.path), shown)
            raise
        if rep.header is not None:
            try:  # re-running an export's selection tells what an export would: it needs the same right
                check_may_export(service, me)
            except PermissionDenied as exc:
                raise PermissionDenied(f"Checking an export against the database re-runs its selection: "
                                       f"{exc}") from None
        result = check_against_database(service, rep, transfer.reporter("verify"))
    finally:
        upload.close()
    return {"report": _report(rep), "result": {**result.model_dump(mode="json"), "summary": result.summary()}}


def _report(rep: "FileReport") -> dict[str, Any]:
    return {"kind": rep.kind, "checks": [c.__dict__ for c in rep.checks],
            "checkpoint": None if rep.checkpoint is None else rep.checkpoint.model_dump(mode="json")}


# --- checkpoints and proofs ----------------------------------------------------------------------

def _checkpoint_param(call: "Call") -> Any:
    from ..core.models import Checkpoint

    from .methods import InvalidParams

    try:
        return Checkpoint.model_validate(call.params["checkpoint"])
    except ValueError:  # pydantic's ValidationError
        raise InvalidParams(f"{call.params['checkpoint']!r:.60} is not a checkpoint.") from None


def _verify_since(call: "Call") -> dict[str, Any]:
    result = call.service.verify_audit_since(_checkpoint_param(call))
    return {**result.model_dump(mode="json"), "summary": result.summary()}


def _checkpoint_keys(call: "Call") -> list[str]:
    """The keys a checkpoint note of this database is checked against: the service account's own
    (checkpoints.known_public_keys, as on the database's account in embedded mode)."""
    from ..core.checkpoints import known_public_keys

    return known_public_keys(call.service.database_id)


def _audit_seqs(call: "Call") -> list[int]:
    wid = call.params["workflow_id"].strip()
    call.service.get_workflow_for(call.username, wid)  # unknown, or not theirs to see: the engine's line
    return call.service.audit_seqs_for(wid)


def _prove_entries(call: "Call") -> list[dict[str, Any]]:
    from .methods import InvalidParams

    seqs = call.params["seqs"]
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in seqs) or len(seqs) > MAX_PROOFS:
        raise InvalidParams(f"prove.entries: 'seqs' must be at most {MAX_PROOFS} entry numbers.")
    proofs = call.service.prove_entries(seqs, _checkpoint_param(call))
    for wid in sorted({p.workflow_id for p in proofs if p.workflow_id}):
        call.service.get_workflow_for(call.username, wid)  # a person proves only what they may see
    return [p.to_json() for p in proofs]


#: proofs per message (each is ~log2(size) hashes: 200 of them stay far below MAX_MESSAGE)
MAX_PROOFS = 200


def export_methods() -> list["Method"]:
    """The methods above, for methods._table() (built there, once Method exists: no import cycle)."""
    from ..core.reports.export import DEFAULT_TIMELINES
    from .methods import Method, _p

    handle = {"handle": _p(str, required=True)}
    return [
        Method("export.start", _export_start, {
            "format": _p(str, default="jsonl"), "since": _p(str), "until": _p(str), "workflow_ids": _p(list),
            "workflow_types": _p(list), "actors": _p(list), "timelines": _p(int, default=DEFAULT_TIMELINES),
            "timezone": _p(str)}),
        Method("export.bundle", _bundle_start),
        Method("transfer.read", _read, {**handle, "offset": _p(int, required=True)}),
        Method("transfer.close", _close_method, handle),
        Method("upload.start", _upload_start, {"size": _p(int, required=True)}),
        Method("upload.write", _upload_write, {**handle, "offset": _p(int, required=True),
                                               "data": _p(str, required=True)}),
        Method("verify.file", _verify_file, {"upload": _p(str, required=True), "path": _p(str, default="FILE")}),
        Method("verify.since", _verify_since, {"checkpoint": _p(dict, required=True)}),
        Method("checkpoint.keys", _checkpoint_keys),
        Method("checkpoints.stored", lambda c: [cp.model_dump(mode="json") for cp in c.service.stored_checkpoints()]),
        Method("audit.seqs", _audit_seqs, {"workflow_id": _p(str, required=True)}),
        Method("prove.entries", _prove_entries, {"seqs": _p(list, required=True),
                                                 "checkpoint": _p(dict, required=True)}),
        Method("prove.consistency", lambda c: c.service.prove_consistency(c.params["first"], c.params["second"]),
               {"first": _p(int, required=True), "second": _p(int, required=True)}),
    ]
