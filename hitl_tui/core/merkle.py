"""The Merkle tree of RFC 9162 section 2.1 over the audit entries: pure functions, no database.

Leaf n's hash is sha256(0x00 || B_n) over the same canonical bytes the hash chain hashes; an
inner node is sha256(0x01 || left || right); the tree of n > 1 leaves splits at k, the largest
power of two below n. Every subtree the RFC's recursion visits on its left side is a *perfect*
one: 2**level leaves starting at a multiple of 2**level, named here (level, index). So the proofs
below are written against one callback, `perfect(level, index) -> hash`, and the caller decides
where those hashes come from: a list of leaves (tests, small trees) or the nodes stored beside
the log (store/merkle_nodes.py), which is what makes a proof in a log of a million cost about
twenty look-ups instead of a million hashes.
"""

from __future__ import annotations

import hashlib
from typing import Callable, Iterable, Sequence

Perfect = Callable[[int, int], bytes]

EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof was asked for outside the tree (an index past its size, sizes out of order)."""


def leaf_hash(body: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + body).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """k: the largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def range_hash(lo: int, hi: int, perfect: Perfect) -> bytes:
    """MTH of the leaves [lo, hi) as the RFC's recursion builds it, from perfect subtrees."""
    n = hi - lo
    if n <= 0:
        return EMPTY_ROOT
    if n & (n - 1) == 0 and lo % n == 0:
        level = n.bit_length() - 1
        return perfect(level, lo >> level)
    k = split(n)
    return node_hash(range_hash(lo, lo + k, perfect), range_hash(lo + k, hi, perfect))


def inclusion_proof(index: int, size: int, perfect: Perfect) -> list[bytes]:
    """PATH(index, D[size]) of RFC 9162 2.1.3.1, leaf-side first."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size} leaves")
    path: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:  # walk down from the root, then reverse: the RFC lists the deepest first
        k = split(hi - lo)
        if index < lo + k:
            path.append(range_hash(lo + k, hi, perfect))
            hi = lo + k
        else:
            path.append(range_hash(lo, lo + k, perfect))
            lo = lo + k
    path.reverse()
    return path


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes | None:
    """The root that `path` proves `leaf` (a leaf hash) at `index` under (RFC 9162 2.1.3.2), or
    None when the path cannot be a proof for that index and size at all."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes) -> bool:
    return root_from_inclusion(index, size, leaf, path) == root


def consistency_proof(first: int, second: int, perfect: Perfect) -> list[bytes]:
    """PROOF(first, D[second]) of RFC 9162 2.1.4.1; empty when first is 0 or equals second."""
    if not 0 <= first <= second:
        raise ProofError(f"a tree of {first} leaves cannot be a prefix of one of {second}")
    if first == 0 or first == second:
        return []
    out: list[bytes] = []
    lo, hi, m, whole = 0, second, first, True
    while True:
        n = hi - lo
        if m == n:
            if not whole:
                out.append(range_hash(lo, hi, perfect))
            break
        k = split(n)
        if m <= k:
            out.append(range_hash(lo + k, hi, perfect))
            hi = lo + k
        else:
            out.append(range_hash(lo, lo + k, perfect))
            lo, m, whole = lo + k, m - k, False
    out.reverse()
    return out


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """RFC 9162 2.1.4.2: does the tree of `second` leaves (second_root) extend the tree of
    `first` leaves (first_root)?"""
    if not 0 <= first <= second:
        return False
    if first == 0:
        return not proof  # the empty tree is a prefix of every tree
    if first == second:
        return not proof and first_root == second_root
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


class CompactRange:
    """The right edge of a growing tree: the hashes of its perfect subtrees, largest first (one
    per bit set in `size`). Appending a leaf merges equal subtrees, which is how the stored
    nodes are made one at a time, and folding the edge right to left gives the root."""

    __slots__ = ("size", "hashes")

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()) -> None:
        self.size = size
        self.hashes = list(hashes)
        if len(self.hashes) != bin(size).count("1"):
            raise ValueError(f"a tree of {size} leaves has {bin(size).count('1')} edge hashes, not {len(self.hashes)}")

    def copy(self) -> "CompactRange":
        return CompactRange(self.size, self.hashes)

    def append(self, leaf: bytes, keep_from: int = 0) -> list[tuple[int, int, bytes]]:
        """Add one leaf hash; returns the perfect subtrees it completed at levels >= keep_from,
        as (level, index, hash)."""
        done: list[tuple[int, int, bytes]] = []
        hashes, size = self.hashes, self.size
        h, level = leaf, 0
        if keep_from == 0:
            done.append((0, size, h))
        while size >> level & 1:  # a subtree of this level is waiting on the left: merge
            h = node_hash(hashes.pop(), h)
            level += 1
            if level >= keep_from:
                done.append((level, size >> level, h))
        hashes.append(h)
        self.size = size + 1
        return done

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        r = self.hashes[-1]
        for h in reversed(self.hashes[:-1]):
            r = node_hash(h, r)
        return r

    @staticmethod
    def edge(size: int) -> list[tuple[int, int]]:
        """(level, index) of the perfect subtrees making up a tree of `size` leaves, largest first."""
        out, start = [], 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                out.append((level, start >> level))
                start += 1 << level
        return out


# --- over a list of leaves (tests, and anyone holding a whole export) -----------------------

def list_perfect(leaves: Sequence[bytes]) -> Perfect:
    """A `perfect` callback over leaf hashes held in memory (memoised)."""
    memo: dict[tuple[int, int], bytes] = {}

    def perfect(level: int, index: int) -> bytes:
        if level == 0:
            return leaves[index]
        key = (level, index)
        if key not in memo:
            memo[key] = node_hash(perfect(level - 1, 2 * index), perfect(level - 1, 2 * index + 1))
        return memo[key]

    return perfect


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes."""
    return range_hash(0, len(leaves), list_perfect(leaves))
