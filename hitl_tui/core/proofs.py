"""The Merkle tree at work on a database: checking the stored nodes against the entries,
verifying only what was added since a trusted checkpoint, and inclusion / consistency proofs.

The tree itself is merkle.py (pure RFC 9162) and its stored nodes store/merkle_nodes.py; the
hash chain is audit.py. Everything here runs inside one read snapshot given by the caller.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from .audit import ChainWalker
from .merkle import CompactRange, consistency_proof, inclusion_proof, leaf_hash, verify_consistency, verify_inclusion
from .models import Checkpoint
from .store import audit_log, merkle_nodes, meta
from .store.merkle_nodes import LEVEL, StoredTree
from .store.connection import Conn


class TreeBuilder:
    """Builds the tree from the same rows the ChainWalker re-hashes: the root at chosen sizes,
    and every node the store should hold (levels LEVEL and up) for the later comparison."""

    def __init__(self, edge: CompactRange | None = None, want_sizes: Iterable[int] = ()) -> None:
        self.edge = edge or CompactRange()
        self.start = self.edge.size
        self.want = set(want_sizes)
        self.root_at: dict[int, str] = {}
        self.nodes: dict[tuple[int, int], bytes] = {}
        if self.edge.size in self.want:
            self.root_at[self.edge.size] = self.edge.root().hex()

    def feed(self, rows: Iterable[tuple[Any, ...]], upto: int) -> None:
        """Leaves of `rows` (seq, body, ...) up to entry `upto` (what the walker accepted)."""
        edge, nodes, want = self.edge, self.nodes, self.want
        for row in rows:
            if edge.size >= upto:
                return
            for level, idx, h in edge.append(leaf_hash(row[1]), keep_from=LEVEL):
                nodes[(level, idx)] = h
            if edge.size in want:
                self.root_at[edge.size] = edge.root().hex()

    def stored_problem(self, conn: Conn) -> tuple[int, str] | None:
        """(first entry, problem) for the first stored node (in the order they were written)
        that is not what the entries hash to, is missing, or covers entries beyond the log."""
        stored = {(level, idx): h for level, idx, h in merkle_nodes.nodes_from(conn, self.start)}
        bad = []
        for key in stored.keys() | self.nodes.keys():
            got, expected = stored.get(key), self.nodes.get(key)
            if got == expected:
                continue
            why = ("is missing: it was deleted" if got is None else
                   "covers entries beyond the end of the log: it was added" if expected is None else
                   "differs from what the entries hash to: the tree index was edited")
            level, idx = key
            bad.append((((idx + 1) << level, level), why))
        if not bad:
            return None
        (end, level), why = min(bad)
        idx = (end >> level) - 1
        first = (idx << level) + 1
        return first, f"the Merkle tree node at level {level}, index {idx} (entries {first} to {end}) {why}"


@dataclass(frozen=True)
class InclusionProof:
    seq: int
    workflow_id: str | None
    action: str
    leaf_hash: str
    tree_size: int
    root_hash: str
    path: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "leaf_index": self.seq - 1, "workflow_id": self.workflow_id, "action": self.action,
                "leaf_hash": self.leaf_hash, "tree_size": self.tree_size, "root_hash": self.root_hash,
                "path": list(self.path)}


def verify_since(conn: Conn, cp: Checkpoint,
                 progress: Callable[[int, int], None] | None = None) -> tuple[ChainWalker, int]:
    """Inside one snapshot: check what was appended after the trusted checkpoint `cp` (its
    signature is the caller's to check). The entry at its size must still hash to its head and
    the stored tree's edge at its size fold to its root; then the new entries are re-hashed from
    that head, their leaves extend that edge, every node they completed is compared with the
    stored one, and a consistency proof from the stored tree must connect the signed root to
    the new one. Cost: the new entries plus a few dozen look-ups. Returns the walker (its
    count is the log's size) and the number of new entries."""
    walker = ChainWalker()
    size, head = meta.audit_head(conn)
    s = cp.size
    walker.count, walker.prev = s, bytes.fromhex(cp.head_hash)
    if size < s:
        walker.fail(size + 1, f"the checkpoint vouches for {s:,} entries but the database holds {size:,}: the chain was truncated")
        return walker, 0
    if s:
        rows = audit_log.hashes_at(conn, (s - 1, s))
        body = audit_log.entry_at(conn, s)  # (bytes, workflow id)
        prev = bytes(rows.get(s - 1) or b"") if s > 1 else bytes(32)
        if body is None or bytes(rows.get(s, b"")) != walker.prev or hashlib.sha256(prev + bytes(body[0])).digest() != walker.prev:
            walker.fail(s, f"entry {s} differs from the checkpoint: the chain was rewritten")
            return walker, 0
    edge = merkle_nodes.edge_from_store(conn, s)
    if edge.root().hex() != cp.root_hash:
        walker.fail(1, f"the Merkle tree of the first {s:,} entries does not have the checkpoint's root: the entries or "
                       f"the tree index were edited")
        return walker, 0
    tree = TreeBuilder(edge)
    for batch in audit_log.iter_rows(conn, start=s + 1):
        if not walker.feed(batch):
            break
        tree.feed(batch, walker.count)
        if progress:
            progress(walker.count - s, size - s)
    if walker.bad_seq is None:
        _check_head(walker, size, head)
    if walker.bad_seq is None:
        found = tree.stored_problem(conn)
        if found is not None:
            walker.fail(*found)
    if walker.bad_seq is None:
        stored = StoredTree(conn, size)
        proof = consistency_proof(s, size, stored.perfect)
        if not verify_consistency(s, size, bytes.fromhex(cp.root_hash or ""), tree.edge.root(), proof):
            walker.fail(s + 1, f"the stored tree of {size:,} entries does not extend the checkpoint's tree of {s:,}")
    return walker, walker.count - s


def _check_head(walker: ChainWalker, size: int, head: bytes) -> None:
    if walker.count < size:
        walker.fail(walker.count + 1, f"the chain ends at entry {walker.count} but the database recorded {size} entries")
    elif walker.prev != head:
        walker.fail(size, f"entry {size} is not the head the database recorded: the chain was rewritten")


def inclusion_proofs(conn: Conn, seqs: Iterable[int], size: int, root_hash: str) -> list[InclusionProof]:
    """Proofs that entries `seqs` are leaves of the tree of the first `size` entries whose root is
    `root_hash` (a signed checkpoint's). Each proof is checked before it is handed out: a stored
    node that was edited gives a proof that does not verify, and that is an error, not a proof."""
    from .errors import AuditChainBroken

    tree = StoredTree(conn, size)
    root = bytes.fromhex(root_hash)
    out = []
    for seq in seqs:
        row = audit_log.entry_at(conn, seq)
        if row is None:
            raise AuditChainBroken(f"entry {seq} is not in the audit log; run `hitl-tui verify-audit`.")
        leaf = leaf_hash(bytes(row[0]))
        path = inclusion_proof(seq - 1, size, tree.perfect)
        if not verify_inclusion(seq - 1, size, leaf, path, root):
            raise AuditChainBroken(
                f"entry {seq} does not prove into the signed tree of {size:,} entries: the entry or the stored tree "
                f"was edited. Run `hitl-tui verify-audit`.")
        out.append(InclusionProof(seq, row[1], _action(bytes(row[0])), leaf.hex(), size, root_hash,
                                  tuple(p.hex() for p in path)))
    return out


def consistency(conn: Conn, first: int, second: int) -> list[str]:
    return [p.hex() for p in consistency_proof(first, second, StoredTree(conn, second).perfect)]


def _action(body: bytes) -> str:
    import json

    try:
        return str(json.loads(body).get("action"))
    except (ValueError, AttributeError):
        return "?"
