"""Full verification of a ~1M-entry trail of REAL signed entries against its bare costs (issue 10):

  (a) read      every audit row read through SQLCipher (the same query verify_audit pages with,
                from a fresh connection in one snapshot), nothing else;
  (b) verify    Ed25519 verification of the same signatures over the same signed statements with
                the same library (cryptography), one process, the keys already loaded;
  (c) verify_audit()  as `hitl-tui verify-audit` runs it: hash chain, Merkle tree, key history
                and every signature (worker processes), replay of the tables.
Printed: c / (a + b) (goal <= 2, using both cores), c's CPU time over its wall time (the cores it
used), and the split of c by phase (timed around the engine's own calls, which run unchanged).

    .venv/bin/python benchmarks/bench_verify.py              # ~1,000,000 entries
    .venv/bin/python benchmarks/bench_verify.py --entries 100000

The database is built once, through the service's own create_workflow_request / decide /
resubmit / withdraw_workflow and add_user (so every entry is exactly what the engine writes: the
replay details, each decider's signature by the key registered for them in the trail), and cached
under HITL_BENCH_CACHE (default /tmp/hitl-bench) by entry count, seed and BUILD_VERSION. Only the
transaction boundary differs from the desk's: one write transaction per BATCH actions instead of
one per action (Batched below), which is what makes a million actions take minutes, not hours.
The people's signing keys live beside the cached database, never in the real home directory.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

CACHE = Path(os.environ.get("HITL_BENCH_CACHE", "/tmp/hitl-bench"))
# a throwaway home for this process before hitl_tui is imported: no real keyring, settings or key
# store is ever read or written by a benchmark (the signature workers, which import this file
# again, inherit it)
if os.environ.get("BENCH_VERIFY_HOME"):
    _HOME = Path(os.environ["BENCH_VERIFY_HOME"])
else:
    _HOME = Path(tempfile.mkdtemp(prefix="bench-verify-home-"))
    os.environ["BENCH_VERIFY_HOME"] = str(_HOME)
    atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
for _name in [n for n in os.environ if n.startswith("HITL_") and n != "HITL_BENCH_CACHE"]:
    del os.environ[_name]
os.environ.update(HOME=str(_HOME), XDG_DATA_HOME=str(_HOME / "data"), XDG_CONFIG_HOME=str(_HOME / "config"),
                  XDG_STATE_HOME=str(_HOME / "state"), PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey  # noqa: E402

from hitl_tui.core import proofs, reads, replay, signature_check  # noqa: E402
from hitl_tui.core.audit import ChainWalker  # noqa: E402
from hitl_tui.core.service import WorkflowService  # noqa: E402
from hitl_tui.core.signatures import SIGNED_ACTIONS, parse_public_key, statement_of  # noqa: E402
from hitl_tui.core.store import audit_log  # noqa: E402
from hitl_tui.core.store.connection import begin, commit  # noqa: E402

#: bump whenever the generated history changes, so that no run reuses an older cached database
BUILD_VERSION = "4"  # 4: personal values sealed, stored in entry order (issue 10 section 5)
BATCH = 20_000  # actions per write transaction
SEED = 10
ADMIN = "bench.admin"
STAFF = {"employee": 40, "manager": 12, "director": 6, "executive": 4, "compliance": 3}


class Batched(WorkflowService):
    """The service, every method unchanged, whose write transactions are the caller's while
    `outer` is set: the actions of a batch commit together."""

    outer = False

    @contextmanager
    def _write(self):
        if not self.outer:
            with super()._write() as conn:
                yield conn
            return
        yield self._conn


# --- the cached database ------------------------------------------------------------------------

def cached(entries: int, seed: int) -> tuple[Path, bytes]:
    db = CACHE / f"verify-v{BUILD_VERSION}-{entries}-s{seed}.db"
    keyfile = db.with_name(db.name + ".key")
    if db.exists() and keyfile.exists():
        return db, bytes.fromhex(keyfile.read_text())
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = db.with_name(f"{db.name}.{os.getpid()}.tmp")
    key = os.urandom(32)
    print(f"building {entries:,} signed entries into {db} (cached for later runs)...", file=sys.stderr)
    t0 = time.perf_counter()
    try:
        build(tmp, key, entries, seed, keys=people_dir(db))
    except BaseException:
        for leftover in CACHE.glob(tmp.name + "*"):
            leftover.unlink()
        raise
    fd = os.open(keyfile, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    os.write(fd, key.hex().encode())
    os.close(fd)
    os.replace(tmp, db)  # under its real name only once complete
    print(f"  built in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return db, key


def people_dir(db: Path) -> Path:
    """The people's signing keys of a cached database (a benchmark that writes signs with them)."""
    return db.with_name(db.name + ".people")


def build(path: Path, key: bytes, entries: int, seed: int, keys: Path) -> None:
    svc = Batched.open(path, key=key, create=True, operator=ADMIN)
    try:
        shutil.rmtree(keys, ignore_errors=True)
        svc.use_personal_keys_in(keys)  # every person's key made here, as embedded mode does
        svc._conn.execute("PRAGMA cache_size = -262144")  # this build only: index pages stay in memory
        svc._conn.execute("PRAGMA synchronous = OFF")  # a build cut short is thrown away anyway
        svc.add_user(ADMIN, "manager", admin=True, actor=ADMIN)
        staff = {role: [f"{role}{i:02d}" for i in range(n)] for role, n in STAFF.items()}
        for role, names in staff.items():
            for name in names:
                svc.add_user(name, role, actor=ADMIN)
        rng = random.Random(seed)
        done, last = 0, time.perf_counter()
        while (size := svc.audit_size()) < entries:
            begin(svc._conn, immediate=True)
            svc.outer = True
            try:
                for i in range(BATCH // 4):  # some 3.3 entries a request
                    one_request(svc, rng, staff)
                    if i % 200 == 199 and svc.audit_size() >= entries:
                        break
                commit(svc._conn)
            except BaseException:
                svc._conn.rollback()
                raise
            finally:
                svc.outer = False
            if size - done >= 100_000:
                now = time.perf_counter()
                print(f"  {size:,} entries ({(size - done) / (now - last):,.0f}/s)", file=sys.stderr)
                done, last = size, now
    finally:
        svc.close(checkpoint=False)


def one_request(svc: WorkflowService, rng: random.Random, staff: dict[str, list[str]]) -> None:
    """One expense's life: filed, then decided stage by stage by people of each stage's role.
    Most are approved; some rejected, sent back and resubmitted, withdrawn, or left pending."""
    requester = rng.choice(staff["employee"])
    amount = rng.choice((rng.uniform(50, 999), rng.uniform(1000, 9999), rng.uniform(10_000, 49_999),
                         rng.uniform(50_000, 250_000)))
    wid = svc.create_workflow_request("expense_approval", f"Travel and supplies #{rng.randrange(10**6)}",
                                      "Quarterly team offsite: travel, venue and catering.", requester,
                                      {"amount": f"{amount:.2f}", "category": "travel"})
    fate = rng.random()
    if fate < 0.04:
        svc.withdraw_workflow(wid, requester, "No longer needed")
        return
    sent_back = fate < 0.10
    stage = 0
    while True:
        req = svc.get_workflow(wid) if stage == 0 else req
        role = req.required_approvers[req.current_stage].value
        decider = rng.choice(staff[role])
        if sent_back and req.current_stage == len(req.required_approvers) - 1:
            svc.request_changes(wid, decider, "Attach the receipts, please")
            svc.resubmit(wid, requester, data={"amount": f"{amount * 0.9:.2f}", "category": "travel"},
                         comments="Receipts attached")
            sent_back, stage = False, 0
            continue
        if rng.random() < 0.02:
            return  # still pending at this stage
        if rng.random() < 0.04:
            svc.reject_workflow(wid, decider, "Over the quarter's budget")
            return
        req = svc.approve_workflow(wid, decider, "Business justification confirmed")
        stage += 1
        if req.status.value != "awaiting_approval":
            return


# --- the three measurements -----------------------------------------------------------------------

def load() -> str:
    return "load %.2f %.2f %.2f" % os.getloadavg()


def bare_read(svc: WorkflowService) -> tuple[float, int]:
    conn = svc._reader()
    try:
        t0 = time.perf_counter()
        begin(conn)
        rows = sum(len(batch) for batch in audit_log.iter_rows(conn))
        commit(conn)
        return time.perf_counter() - t0, rows
    finally:
        conn.close()


def signed_items(svc: WorkflowService) -> list[tuple[Ed25519PublicKey, bytes, bytes]]:
    """(public key, signature, signed statement) of every signed entry, prepared outside the clock:
    the keys by their id from the registrations in the trail."""
    db_id = svc.database_id
    keys: dict[str, Ed25519PublicKey] = {}
    items = []
    for batch in svc._read(lambda conn: list(audit_log.iter_rows(conn))):
        for _, body, _, _ in batch:
            rec = json.loads(body)
            d = rec.get("details") or {}
            if rec["action"] in ("user_added", "user_key_registered") and d.get("public_key"):
                keys[d["key_id"]] = Ed25519PublicKey.from_public_bytes(parse_public_key(d["public_key"]))
            sig = rec.get("sig")
            if rec["action"] in SIGNED_ACTIONS and sig:
                items.append((keys[sig["key"]], bytes.fromhex(sig["value"]), statement_of(rec, db_id)))
    return items


def bare_verify(items) -> float:
    t0 = time.perf_counter()
    for public, sig, msg in items:
        public.verify(sig, msg)
    return time.perf_counter() - t0


class Phases:
    """Wall time inside the engine's own calls during verify_audit (wrapped, run unchanged), each
    exclusive of the wrapped calls it makes (so the replay's own reads count as the replay's)."""

    TARGETS = [(audit_log, "iter_rows", "read rows through SQLCipher"),
               (ChainWalker, "feed", "hash chain"), (proofs.TreeBuilder, "feed", "Merkle tree"),
               (signature_check.SignaturePass, "feed", "signatures: key history, byte read"),
               (signature_check.SignaturePass, "_submit", "signatures: hand-off, waiting for workers"),
               (signature_check.SignaturePass, "finish", "signatures: last workers, keys table"),
               (proofs.TreeBuilder, "stored_problem", "tree against its stored nodes"),
               (replay.Comparison, "feed", "replay of the tables (main loop)"),
               (replay.Comparison, "result", "replay: table comparison")]

    def __init__(self) -> None:
        self.spent: dict[str, float] = {name: 0.0 for _, _, name in self.TARGETS}
        self._stack: list[float] = []  # time spent in wrapped callees, one slot per open call

    @contextmanager
    def timing(self):
        saved = [(owner, attr, getattr(owner, attr)) for owner, attr, _ in self.TARGETS]
        for owner, attr, name in self.TARGETS:
            original = getattr(owner, attr)
            setattr(owner, attr, self._rows(original, name) if attr == "iter_rows" else self._timed(original, name))
        try:
            yield self
        finally:
            for owner, attr, original in saved:
                setattr(owner, attr, original)

    def _span(self, name, fn, *args, **kw):
        self._stack.append(0.0)
        t0 = time.perf_counter()
        try:
            return fn(*args, **kw)
        finally:
            took = time.perf_counter() - t0
            inner = self._stack.pop()
            self.spent[name] += took - inner
            if self._stack:
                self._stack[-1] += took

    def _timed(self, fn, name):
        return lambda *args, **kw: self._span(name, fn, *args, **kw)

    def _rows(self, fn, name):
        def rows(*args, **kw):
            it = fn(*args, **kw)
            while True:
                try:
                    batch = self._span(name, next, it)
                except StopIteration:
                    return
                yield batch
        return rows


def full_verify(path: Path, key: bytes) -> tuple[float, float, dict[str, float], object]:
    svc = WorkflowService.open(path, key=key, create=False)
    try:
        cpu0, kids0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        with Phases().timing() as phases:
            t0 = time.perf_counter()
            result = svc.verify_audit(progress=lambda done, total: None)  # the CLI passes a printer
            wall = time.perf_counter() - t0
        cpu1, kids1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        svc.close(checkpoint=False)
    cpu = sum(getattr(b, f) - getattr(a, f) for a, b in ((cpu0, cpu1), (kids0, kids1)) for f in ("ru_utime", "ru_stime"))
    return wall, cpu, phases.spent, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="audit entries (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--only-full", action="store_true", help="measure (c) only (a rerun when the machine is quieter)")
    args = parser.parse_args()
    path, key = cached(args.entries, args.seed)
    print(f"database: {path} ({path.stat().st_size / 2**20:,.0f} MiB), {os.cpu_count()} cores")
    if not args.only_full:
        svc = WorkflowService.open(path, key=key, create=False)
        try:
            bare_read(svc)  # warm the OS page cache, as for (c): each figure reads the same file
            where = load()
            a, rows = bare_read(svc)
            print(f"(a) read {rows:,} audit rows through SQLCipher: {a:8.2f} s   [{where}]")
            print("preparing the signed statements...", file=sys.stderr)
            items = signed_items(svc)
        finally:
            svc.close(checkpoint=False)
        where = load()
        b = bare_verify(items)
        print(f"(b) Ed25519 verify of {len(items):,} signatures, 1 process: {b:8.2f} s   [{where}]")
        del items
    where = load()
    c, cpu, spent, result = full_verify(path, key)
    print(f"(c) verify_audit(): {c:8.2f} s, CPU of this process {cpu:.2f} s (the workers not counted)   [{where}, after: {load()}]")
    print(f"    {result.summary()}")
    print(f"    tables: checked={result.tables_checked}, replayed {result.replayed_entries:,} entries, "
          f"legacy {result.legacy_entries:,}")
    for name, s in spent.items():
        print(f"    {name:45s} {s:8.2f} s  {s / c:6.1%}")
    rest = c - sum(spent.values())
    print(f"    {'the rest (loop, head, checkpoints, snapshot)':45s} {rest:8.2f} s  {rest / c:6.1%}")
    if not args.only_full:
        print(f"c / (a + b) = {c:.2f} / ({a:.2f} + {b:.2f}) = {c / (a + b):.2f}   (goal <= 2)")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
