"""SQL for the stored Merkle tree nodes: the hashes of complete subtrees of 2**LEVEL leaves and up.

An index, like the tables: verify-audit recomputes every node from the entries' bytes and names
the first stored one that differs. Only complete (perfect) subtrees are stored, each once, in the
transaction that appends the entry completing it (audit_log.append), so a stored node never
changes. Levels below LEVEL are not stored: a proof hashes those few leaves from the bodies
(at most 2**LEVEL of them), which keeps the table at about one row per 2**(LEVEL-1) entries
(125,000 rows, some 6 MB, for a million entries) while a proof still costs ~20 look-ups.

The right edge of the tree (merkle.CompactRange) that the next append extends is kept in memory,
keyed by (size, H_size): the hash chain's head commits to every entry, so the edge is a function
of it and a cached edge can never belong to another log. On a miss it is read back from the
stored nodes and the last few bodies.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Iterator

from ..merkle import CompactRange, leaf_hash, node_hash, range_hash
from .connection import Conn

#: the lowest level stored: subtrees of 16 entries and up
LEVEL = 4
BATCH = 20_000

_edges: "OrderedDict[tuple[int, bytes], CompactRange]" = OrderedDict()
_EDGES_KEPT = 32

INSERT = "INSERT OR REPLACE INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)"


def on_append(conn: Conn, seq: int, body: bytes, digest: bytes, prev: bytes | None) -> None:
    """Store the subtrees entry `seq` completes. Called by audit_log.append in its transaction;
    only executes INSERTs when the edge before it is cached (the usual case), so a batching
    stand-in for the connection works too."""
    edge = _edges.get((seq - 1, prev)) if prev is not None else None
    if edge is None:
        edge = edge_from_store(conn, seq - 1)
    edge = edge.copy()
    for level, idx, h in edge.append(leaf_hash(body), keep_from=LEVEL):
        conn.execute(INSERT, (level, idx, h))
    remember(seq, digest, edge)


def remember(size: int, head: bytes, edge: CompactRange) -> None:
    _edges[(size, head)] = edge
    _edges.move_to_end((size, head))
    while len(_edges) > _EDGES_KEPT:
        _edges.popitem(last=False)


def cached_edge(size: int, head: bytes) -> CompactRange | None:
    edge = _edges.get((size, head))
    return None if edge is None else edge.copy()


def prev_hash_of(body: bytes) -> bytes | None:
    """H_{seq-1} as the record itself names it. Canonical JSON sorts the top-level keys, and
    after "prev_hash" only `sig` is an object (with fixed keys), so the last `"prev_hash":"`
    in the bytes is the record's own; anything unexpected gives None (read from the store)."""
    at = body.rfind(b'"prev_hash":"')
    if at < 0:
        return None
    value = body[at + 13:at + 77]
    try:
        return bytes.fromhex(value.decode("ascii")) if len(value) == 64 and body[at + 77:at + 78] == b'"' else None
    except (UnicodeDecodeError, ValueError):
        return None


def get(conn: Conn, level: int, idx: int) -> bytes | None:
    row = conn.execute("SELECT CAST(hash AS BLOB) FROM merkle_nodes WHERE level = ? AND idx = ?", (level, idx)).fetchone()
    return None if row is None else bytes(row[0])


def leaves(conn: Conn, first: int, last: int) -> list[bytes]:
    """Leaf hashes of entries first..last (1-based seq, inclusive), hashed from their bodies."""
    if last < first:
        return []
    rows = conn.execute("SELECT seq, CAST(body AS BLOB) FROM audit_log WHERE seq BETWEEN ? AND ? ORDER BY seq",
                        (first, last)).fetchall()
    if len(rows) != last - first + 1 or (rows and (rows[0][0] != first or rows[-1][0] != last)):
        from ..errors import AuditChainBroken

        raise AuditChainBroken(f"entries {first} to {last} are not all in the audit log: it was cut; "
                               f"run `hitl-tui verify-audit`.")
    return [leaf_hash(bytes(b)) for _, b in rows]


class StoredTree:
    """The tree of the first `size` entries, read from the stored nodes (computing any node that
    is not stored from the ones below it, and the lowest levels from the bodies). Memoises what it
    reads, so one proof reads each node and body once."""

    def __init__(self, conn: Conn, size: int) -> None:
        self.conn, self.size = conn, size
        self._nodes: dict[tuple[int, int], bytes] = {}
        self._leaves: dict[int, bytes] = {}
        #: nodes that should have been stored but were not (the index was damaged)
        self.missing: list[tuple[int, int]] = []

    def perfect(self, level: int, idx: int) -> bytes:
        key = (level, idx)
        found = self._nodes.get(key)
        if found is not None:
            return found
        if level < LEVEL:
            h = self._low(level, idx)
        else:
            stored = get(self.conn, level, idx)
            if stored is None:
                self.missing.append(key)
                stored = node_hash(self.perfect(level - 1, 2 * idx), self.perfect(level - 1, 2 * idx + 1))
            h = stored
        self._nodes[key] = h
        return h

    def _low(self, level: int, idx: int) -> bytes:
        first = idx << level  # 0-based leaf index
        block = first >> LEVEL << LEVEL
        if first not in self._leaves:  # read the whole block of 2**LEVEL leaves (within the tree) once
            last = min(block + (1 << LEVEL), self.size)
            for i, h in enumerate(leaves(self.conn, block + 1, last)):
                self._leaves[block + i] = h
        if level == 0:
            return self._leaves[first]
        return node_hash(self.perfect(level - 1, 2 * idx), self.perfect(level - 1, 2 * idx + 1))

    def root(self) -> bytes:
        return range_hash(0, self.size, self.perfect)

    def edge(self) -> CompactRange:
        return CompactRange(self.size, [self.perfect(level, idx) for level, idx in CompactRange.edge(self.size)])


def edge_from_store(conn: Conn, size: int) -> CompactRange:
    return StoredTree(conn, size).edge()


def backfill(conn: Conn) -> int:
    """Build every stored node from the bodies of a log written before the tree existed (migration
    9). One pass over the log; returns the number of entries it covered."""
    conn.execute("DELETE FROM merkle_nodes")
    edge, last, rows_out = CompactRange(), 0, []
    while True:
        rows = conn.execute("SELECT seq, CAST(body AS BLOB) FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?",
                            (last, BATCH)).fetchall()
        if not rows:
            break
        for seq, body in rows:
            if seq != edge.size + 1:  # a gap: the chain is broken; verify-audit says where
                return edge.size
            rows_out.extend(edge.append(leaf_hash(bytes(body)), keep_from=LEVEL))
        conn.executemany(INSERT, rows_out)
        rows_out = []
        last = rows[-1][0]
    return edge.size


def nodes_from(conn: Conn, size: int) -> Iterator[tuple[int, int, bytes]]:
    """Stored nodes completed by entries after the first `size` (levels LEVEL and up), by level."""
    level = LEVEL
    top = conn.execute("SELECT max(level) FROM merkle_nodes").fetchone()[0]
    while top is not None and level <= top:
        for idx, h in conn.execute("SELECT idx, CAST(hash AS BLOB) FROM merkle_nodes WHERE level = ? AND idx >= ? ORDER BY idx",
                                   (level, size >> level)):
            if (idx + 1) << level > size:
                yield level, idx, bytes(h)
        level += 1
