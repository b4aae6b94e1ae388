"""export-audit, verify-audit FILE and prove on either implementation: the commands call
exports_of(service), which is core's functions on the engine in embedded mode (EngineExports)
and the service's methods in team mode (RemoteExports, remote/exports.py).

In team mode the service builds the export (it alone can read the database) as this OS account,
under its rules; this account receives it in pieces and writes the file itself, on its own side,
through the same writers as embedded mode (export_to_file: a temporary file renamed into place
when complete), so a refusal, a lost connection or a stop half-way leaves nothing behind. A file
to check against the database is sent to the service in pieces and checked there, by core's
checks, on the account whose checkpoint key signed it. Every proof the service sends is checked
here against the signed root this account holds before anyone sees it.

The pieces are paced below the service's default request rate (server.Limits), so a long
transfer is not cut off by it (a service run with a lower `--rate` refuses it in its own line).
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import tarfile
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Callable

from ..core.errors import AuditChainBroken, CheckpointError
from ..core.models import Checkpoint, VerifyResult
from .client import RemoteService
from .protocol import ProtocolError

if TYPE_CHECKING:
    from ..core.proofs import InclusionProof
    from ..core.reports import ExportFilter, ExportResult, FileReport
    from ..core.reports.bundle import BundleResult
    from ..core.reports.evidence import Integrity
    from ..core.service import WorkflowService

Progress = Callable[[int, int], None]
#: waits between asking again for a piece that is still being built: from the service's hint, up to
_LONGEST_WAIT = 1.0


def exports_of(service: Any) -> "EngineExports | RemoteExports":
    """The exports of `service`: the service's own in team mode, core's on the engine otherwise."""
    return service.exports if isinstance(service, RemoteService) else EngineExports(service)


class EngineExports:
    """Embedded mode: core's functions on the engine this process opened."""

    def __init__(self, service: "WorkflowService") -> None:
        self.service = service

    def export_audit(self, fmt: str, out: BinaryIO, filt: "ExportFilter", *, generated_by: str,
                     max_timelines: int | None = None, progress: Progress | None = None,
                     write_progress: Progress | None = None) -> "ExportResult":
        from ..core.reports import DEFAULT_TIMELINES, export_audit

        return export_audit(self.service, fmt, out, filt, generated_by=generated_by,
                            max_timelines=DEFAULT_TIMELINES if max_timelines is None else max_timelines,
                            progress=progress, write_progress=write_progress)

    def write_bundle(self, directory: Path, *, generated_by: str, progress: Progress | None = None) -> "BundleResult":
        from ..core.reports.bundle import write_bundle

        return write_bundle(self.service, directory, generated_by=generated_by, progress=progress)

    def check_file(self, path: Path, progress: Progress | None = None) -> "tuple[FileReport, VerifyResult]":
        """The file by itself, then against the database (verify-audit --checkpoint FILE)."""
        from ..core.reports import check_against_database, inspect_file

        rep = inspect_file(path)
        return rep, check_against_database(self.service, rep, progress)

    def checkpoint_keys(self) -> list[str] | None:
        """The keys a checkpoint note is checked against: None, this account's own (the default
        of checkpoints.read_checkpoint_file)."""
        return None


class RemoteExports:
    """Team mode: the same four operations, through the service, as this OS account."""

    def __init__(self, remote: RemoteService) -> None:
        from .server import Limits, TokenBucket

        self._remote = remote
        defaults = Limits()
        self._pace = TokenBucket(defaults.rate * 0.75, max(1, defaults.burst // 2))

    def export_audit(self, fmt: str, out: BinaryIO, filt: "ExportFilter", *, generated_by: str,
                     max_timelines: int | None = None, progress: Progress | None = None,
                     write_progress: Progress | None = None) -> "ExportResult":
        from ..core.reports import DEFAULT_TIMELINES, ExportResult

        self._remote._as_me(generated_by, "export the audit log")
        # the filter as absolute values (core writes it so into the export): the service builds
        # and checks it again from them, so both sides mean the same entries to the microsecond
        started = self._remote.call("export.start", format=fmt, **filt.to_json(),
                                    timelines=DEFAULT_TIMELINES if max_timelines is None else int(max_timelines),
                                    timezone=self._remote.settings.timezone)
        got = self._receive(started["handle"], out.write, {"verify": progress, "write": write_progress})
        return ExportResult(_integrity(got["integrity"]), got["header"], got["trailer"])

    def write_bundle(self, directory: Path, *, generated_by: str, progress: Progress | None = None) -> "BundleResult":
        """The service's bundle, unpacked beside DIR and renamed into place when complete (as
        core's write_bundle builds its own): an interrupted bundle leaves nothing under DIR."""
        from ..core.reports.bundle import BundleResult, _sync_tree, check_target

        directory = Path(directory)
        check_target(directory)
        self._remote._as_me(generated_by, "export the audit log")
        started = self._remote.call("export.bundle")
        tmp = directory.with_name(f".{directory.name}.{secrets.token_hex(4)}.tmp")
        try:
            with tempfile.TemporaryFile() as packed:
                got = self._receive(started["handle"], packed.write, {"verify": progress})
                os.mkdir(tmp, 0o700)  # the export is not encrypted: only its owner reads it until handed over
                packed.seek(0)
                with tarfile.open(fileobj=packed, mode="r:") as tar:
                    # "data": regular files and folders inside tmp only, no links out, no devices
                    tar.extractall(tmp, filter="data")
            _sync_tree(tmp)
            os.rename(tmp, directory)  # atomic; replaces an empty DIR, fails on one filled meanwhile
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return BundleResult(directory, _integrity(got["integrity"]), int(got["entries"]),
                            {str(k): int(v) for k, v in got["files"].items()})

    def check_file(self, path: Path, progress: Progress | None = None) -> "tuple[FileReport, VerifyResult]":
        """The file is sent to the service, which runs every check, by itself and against the
        database, as `verify-audit --checkpoint FILE` on its own account does."""
        from ..core.reports import Check, FileReport

        path = Path(path)
        upload = self._upload(path)
        started = self._remote.call("verify.file", upload=upload, path=str(path))
        got = self._receive(started["handle"], _nothing_expected, {"verify": progress})
        report, result = got["report"], dict(got["result"])
        result.pop("summary", None)
        cp = report.get("checkpoint")
        rep = FileReport(path, str(report["kind"]), [Check(str(c["name"]), bool(c["ok"]), str(c["detail"]))
                                                     for c in report["checks"]],
                         checkpoint=None if cp is None else Checkpoint.model_validate(cp))
        return rep, VerifyResult.model_validate(result)

    def checkpoint_keys(self) -> list[str] | None:
        """The service's checkpoint key: its account signs every checkpoint of its database."""
        return [str(k) for k in self._remote.call("checkpoint.keys")]

    # --- the pieces ------------------------------------------------------------------------------

    def _call(self, method: str, **params: Any) -> Any:
        while not self._pace.take():
            time.sleep(1 / self._pace.rate)
        return self._remote.call(method, **params)

    def _receive(self, handle: str, write: Callable[[bytes], Any], progress: dict[str, Progress | None]) -> Any:
        """Read transfer `handle` to its end, each piece to write(); its result. Closed on the
        service when this stops early (an error here, a progress callback that cancels)."""
        offset, wait, finished = 0, 0.0, False
        try:
            while True:
                got = self._call("transfer.read", handle=handle, offset=offset)
                phase = got.get("progress")
                report = progress.get(str(phase[0])) if phase else None
                if report is not None:
                    report(int(phase[1]), int(phase[2]))
                if got.get("pending"):
                    wait = min(_LONGEST_WAIT, max(float(got.get("retry_after") or 0.1), wait * 1.5))
                    time.sleep(wait)
                    continue
                wait = 0.0
                data = base64.b64decode(got["data"], validate=True)
                if data:
                    write(data)
                    offset += len(data)
                if "result" in got:
                    finished = True
                    return got["result"]
                if not data:
                    raise ProtocolError("The hitl-tui service ended a transfer without its result; nothing was kept.")
        finally:
            if not finished:
                try:
                    self._remote.call("transfer.close", handle=handle)
                except Exception:  # noqa: BLE001 - the connection may be what failed; the first error is reported
                    pass

    def _upload(self, path: Path) -> str:
        from .exports import CHUNK

        try:
            fh = open(path, "rb")
        except OSError as exc:  # the line inspect_file gives for a file it cannot read
            raise CheckpointError(f"Cannot read {path}: {exc.strerror}.") from None
        with fh:
            size = os.fstat(fh.fileno()).st_size
            handle = str(self._remote.call("upload.start", size=size)["handle"])
            sent = 0
            while sent < size:
                piece = fh.read(CHUNK)
                if not piece:
                    raise CheckpointError(f"Cannot read {path}: it shrank while it was being sent.")
                sent = int(self._call("upload.write", handle=handle, offset=sent,
                                      data=base64.b64encode(piece).decode("ascii"))["received"])
        return handle


def _nothing_expected(data: bytes) -> None:
    raise ProtocolError("The hitl-tui service sent a file where it owed a report; nothing was kept.")


def _integrity(got: dict[str, Any]) -> "Integrity":
    from ..core.reports import Integrity

    cp = got.get("checkpoint")
    return Integrity(VerifyResult.model_validate(got["verification"]),
                     None if cp is None else Checkpoint.model_validate(cp), str(got.get("note") or ""),
                     got.get("stop"))


def proven(remote: RemoteService, seqs: list[int], cp: Checkpoint) -> "list[InclusionProof]":
    """The service's inclusion proofs of `seqs` against `cp`, each checked here against the
    signed root before it is returned (AuditChainBroken when one does not prove)."""
    from .exports import MAX_PROOFS

    proofs: list[InclusionProof] = []
    for start in range(0, len(seqs), MAX_PROOFS):
        wanted = [int(s) for s in seqs[start:start + MAX_PROOFS]]
        got = remote.call("prove.entries", seqs=wanted, checkpoint=cp.model_dump(mode="json"))
        if not isinstance(got, list) or len(got) != len(wanted):
            raise AuditChainBroken(f"The service did not prove the {len(wanted)} entries asked for; run "
                                   f"`hitl-tui verify-audit` on the service's account.")
        proofs.extend(_checked_proof(raw, seq, cp) for raw, seq in zip(got, wanted))
    return proofs


def _checked_proof(raw: Any, seq: int, cp: Checkpoint) -> "InclusionProof":
    from ..core.merkle import verify_inclusion
    from ..core.proofs import InclusionProof

    try:
        proof = InclusionProof(int(raw["seq"]), raw.get("workflow_id"), str(raw["action"]), str(raw["leaf_hash"]),
                               int(raw["tree_size"]), str(raw["root_hash"]), tuple(str(h) for h in raw["path"]))
        proves = (proof.seq == seq and proof.tree_size == cp.size and proof.root_hash == cp.root_hash
                  and verify_inclusion(seq - 1, cp.size, bytes.fromhex(proof.leaf_hash),
                                       [bytes.fromhex(h) for h in proof.path], bytes.fromhex(cp.root_hash or "")))
    except (KeyError, TypeError, ValueError, AttributeError):
        proves = False
    if not proves:
        raise AuditChainBroken(f"The service's proof of entry {seq} does not lead to the checkpoint's signed root "
                               f"({cp.size:,} entries); run `hitl-tui verify-audit` on the service's account.")
    return proof
