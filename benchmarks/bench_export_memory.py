"""Peak memory of `hitl-tui export-audit` on a 1M-entry audit log, against opening the database.

    .venv/bin/python benchmarks/bench_export_memory.py            # ~1,000,000 entries
    .venv/bin/python benchmarks/bench_export_memory.py 200000     # a quicker run

The database comes from bulkdata.py (built once, cached): realistic requests of nine workflow
types, each with its "created" entry and the decisions along its approval chain (most approved,
some rejected, sent back, resubmitted or withdrawn, 2% still pending), with as many requests as
give about the entries asked for; the count printed is the real one. The OS login is a directory
administrator there, which export-audit requires.

Each command runs in its own process; its peak resident memory (ru_maxrss from wait4) is set
against the baseline: the same interpreter importing the CLI and opening the database, nothing
more. The goal is flat memory: under 150 MB whatever the size of the log.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bulkdata  # noqa: E402
from tui_harness import clean_env  # noqa: E402

from hitl_tui.core.service import WorkflowService  # noqa: E402

GOAL_MB = 150
SCRIPT = Path(sys.executable).with_name("hitl-tui")


def measure(label: str, args: list[str], env: dict, stdout=subprocess.DEVNULL) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=stdout, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace").strip()
    return {"label": label, "mb": usage.ru_maxrss / 1024, "s": time.perf_counter() - t0,
            "rc": proc.returncode, "err": err.splitlines()[-1] if err else ""}


def main() -> None:
    wanted = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    n_requests = bulkdata.requests_for_entries(wanted)
    db, keyfile = bulkdata.cached(n_requests)
    svc = WorkflowService.open(db, key=bulkdata.read_key(keyfile))
    entries = svc.audit_size()  # the real count (the first export adds one: its signing key's registration)
    svc.close(checkpoint=False)
    # a private HOME: the signing key the export creates for the bench database lives there
    env = {**clean_env(bulkdata.CACHE / "home"), "HITL_DB_PATH": str(db), "HITL_DB_KEY_FILE": str(keyfile)}
    jsonl = bulkdata.CACHE / "export.jsonl"
    opener = ("import hitl_tui.cli, hitl_tui.commands.export; from hitl_tui.core.service import WorkflowService; "
              f"WorkflowService.open({str(db)!r}).close(checkpoint=False)")
    runs = [
        measure("baseline: import the CLI, open the database", [sys.executable, "-c", opener], env),
        measure("export-audit --format jsonl -o FILE", [str(SCRIPT), "export-audit", "--format", "jsonl", "-o",
                                                        str(jsonl)], env),
        measure("export-audit --format csv  > /dev/null", [str(SCRIPT), "export-audit", "--format", "csv"], env),
        measure("export-audit --format html > /dev/null", [str(SCRIPT), "export-audit", "--format", "html"], env),
        measure("verify-audit --checkpoint FILE.jsonl", [str(SCRIPT), "verify-audit", "--checkpoint", str(jsonl)],
                env),
    ]
    base = runs[0]["mb"]
    print(f"\naudit entries: {entries:,} from {n_requests:,} requests (database {db.stat().st_size / 2**20:.0f} MiB, "
          f"JSONL export {jsonl.stat().st_size / 2**20:.0f} MiB)")
    print(f"{'command':<46} {'peak RSS':>9} {'x baseline':>10} {'vs 150 MB':>9} {'time':>7}  exit")
    for r in runs:
        verdict = "ok" if r["mb"] < GOAL_MB else "OVER"
        print(f"{r['label']:<46} {r['mb']:>6.0f} MB {r['mb'] / base:>9.2f}x {verdict:>9} {r['s']:>6.1f}s  {r['rc']}")
        if r["rc"]:
            print(f"    {r['err']}")
    jsonl.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
