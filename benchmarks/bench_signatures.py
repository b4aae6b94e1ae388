"""verify-audit's signature pass against the bare cost of checking the same signatures.

N signed entries (decisions by a few people, as the engine writes them: canonical bytes with a
"sig" member) are made in memory; then
  bare     = Ed25519PublicKey.verify over the prepared (statement, signature) pairs, one process,
             the same library (cryptography) verify-audit uses, nothing else;
  pass     = signature_check.SignaturePass as verify_audit runs it over the stored bodies: the
             key history, the byte-level action/actor read, and in worker processes the JSON
             parse, the statement rebuilt from the record and the verification, on every core;
  pass/1   = the same pass held to this one process (what the cores buy).
Printed as seconds and ratios to bare (the issue's goal: full verification <= 2x the sum of the
bare costs, using both cores).

    .venv/bin/python benchmarks/bench_signatures.py            # N = 100,000
    .venv/bin/python benchmarks/bench_signatures.py --n 1000000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat  # noqa: E402

from hitl_tui.core.audit import ChainWalker, canonical_bytes, iso, utc_now  # noqa: E402
from hitl_tui.core.signature_check import SignaturePass  # noqa: E402
from hitl_tui.core.signatures import key_id, public_key_text, sign, statement_of  # noqa: E402

DB = "0" * 32
PEOPLE = ["sarah.manager", "mike.director", "lisa.executive", "tom.manager", "dana.director"]


def make(n: int) -> tuple[list[tuple[int, bytes]], list[tuple[bytes, bytes, bytes]]]:
    keys = {p: Ed25519PrivateKey.generate() for p in [*PEOPLE, "ian.itadmin"]}
    raw = {p: k.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw) for p, k in keys.items()}
    rows: list[tuple[int, bytes]] = []
    bare: list[tuple[bytes, bytes, bytes]] = []
    prev = "00" * 32

    def add(rec: dict) -> None:
        rec.update(seq=len(rows) + 1, session_id="s" * 32, os_login="bench", tty=None, remote_addr=None,
                   prev_hash=prev)
        rec["sig"] = sign(keys[rec["actor"]], rec, DB)
        rows.append((rec["seq"], canonical_bytes(rec)))
        bare.append((raw[rec["actor"]], bytes.fromhex(rec["sig"]["value"]), statement_of(rec, DB)))

    now = iso(utc_now())
    for p in ["ian.itadmin", *PEOPLE]:  # the directory: each person's key registered by the admin
        add({"ts": now, "actor": "ian.itadmin", "action": "user_added", "workflow_id": None,
             "details": {"username": p, "role": "manager", "email": None, "display_name": None,
                         "admin": p == "ian.itadmin", "public_key": public_key_text(raw[p]), "key_id": key_id(raw[p])}})
    while len(rows) < n:
        i = len(rows)
        actor = PEOPLE[i % len(PEOPLE)]
        add({"ts": now, "actor": actor, "action": "approved", "workflow_id": f"WF-1764150000-{i % 10000:04d}",
             "details": {"decision": "approve", "stage": 0, "stage_role": "manager", "decider_role": "manager",
                         "comments": "Business justification confirmed", "revision": 1,
                         "status_before": "awaiting_approval", "status_after": "awaiting_approval",
                         "stage_after": 1, "stages": 3}})
    return rows, bare


def time_bare(bare) -> float:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    loaded = {r: Ed25519PublicKey.from_public_bytes(r) for r in {r for r, _, _ in bare}}
    t0 = time.perf_counter()
    for r, sig, msg in bare:
        loaded[r].verify(sig, msg)
    return time.perf_counter() - t0


def time_pass(rows, workers: int) -> tuple[float, dict]:
    t0 = time.perf_counter()
    sp = SignaturePass(DB, len(rows), workers=workers)
    for start in range(0, len(rows), 20_000):  # verify_audit's batches
        sp.feed(rows[start:start + 20_000], len(rows))
    walker = ChainWalker()
    counts = sp.finish(walker)
    elapsed = time.perf_counter() - t0
    assert walker.bad_seq is None and counts["signatures_checked"] == len(rows), (walker.problem, counts)
    return elapsed, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="signed entries (default 100,000)")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    print(f"making {args.n:,} signed entries...", file=sys.stderr)
    rows, bare = make(args.n)
    b = time_bare(bare)
    p, _ = time_pass(rows, cores)
    one, _ = time_pass(rows, 1)
    print(f"signatures: {args.n:,} entries, {cores} cores")
    print(f"  bare verify, 1 process     {b:8.2f} s  ({args.n / b:,.0f}/s)")
    print(f"  verify-audit pass, {cores} cores {p:8.2f} s  ratio {p / b:.2f}x bare")
    print(f"  verify-audit pass, 1 core  {one:8.2f} s  ratio {one / b:.2f}x bare")


if __name__ == "__main__":
    main()
