"""The RFC 9162 Merkle tree: hand-computed vectors, every proof of every small tree against a
reference written straight from the RFC's recursive definitions, tampering, and the nodes the
database stores (after appends across transactions, and after migration 9's backfill)."""

from __future__ import annotations

import hashlib

import pytest

from hitl_tui.core import merkle
from hitl_tui.core.store import merkle_nodes
from hitl_tui.core.store.migrations import MIGRATIONS

from .conftest import raw_connection


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# --- the RFC's definitions, written out independently of merkle.py ---------------------------

def ref_mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return sha(b"")
    if len(leaves) == 1:
        return sha(b"\x00" + leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return sha(b"\x01" + ref_mth(leaves[:k]) + ref_mth(leaves[k:]))


def ref_path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return ref_path(m, leaves[:k]) + [ref_mth(leaves[k:])]
    return ref_path(m - k, leaves[k:]) + [ref_mth(leaves[:k])]


def ref_subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [ref_mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return ref_subproof(m, leaves[:k], whole) + [ref_mth(leaves[k:])]
    return ref_subproof(m - k, leaves[k:], False) + [ref_mth(leaves[:k])]


DATA = [f"entry {i}".encode() for i in range(70)]
LEAVES = [merkle.leaf_hash(d) for d in DATA]


def test_hand_computed_vectors():
    a, b, c = (sha(b"\x00" + x) for x in (b"a", b"b", b"c"))
    assert merkle.leaf_hash(b"a") == a
    assert merkle.root_of([]) == sha(b"") == merkle.EMPTY_ROOT
    assert merkle.root_of([a]) == a
    assert merkle.root_of([a, b]) == sha(b"\x01" + a + b)
    assert merkle.root_of([a, b, c]) == sha(b"\x01" + sha(b"\x01" + a + b) + c)  # split at k = 2
    # RFC 6962/9162 test tree: the empty string as the only leaf
    assert merkle.leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"


@pytest.mark.parametrize("size", range(1, 71))
def test_every_index_proves_and_verifies(size):
    leaves = LEAVES[:size]
    root = merkle.root_of(leaves)
    assert root == ref_mth(DATA[:size])
    perfect = merkle.list_perfect(leaves)
    for i in range(size):
        path = merkle.inclusion_proof(i, size, perfect)
        assert path == ref_path(i, DATA[:size])
        assert merkle.verify_inclusion(i, size, leaves[i], path, root)
        assert not merkle.verify_inclusion(i, size, merkle.leaf_hash(b"changed"), path, root)  # a changed leaf
        if path:
            bad = list(path)
            bad[len(bad) // 2] = sha(bad[len(bad) // 2])  # a changed node of the proof
            assert not merkle.verify_inclusion(i, size, leaves[i], bad, root)
            assert not merkle.verify_inclusion(i, size, leaves[i], path[:-1], root)  # a cut proof
            assert not merkle.verify_inclusion((i + 1) % size, size, leaves[i], path, root) or size == 1
    assert not merkle.verify_inclusion(0, size, leaves[0], merkle.inclusion_proof(0, size, perfect), sha(root))
    with pytest.raises(merkle.ProofError):
        merkle.inclusion_proof(size, size, perfect)


def test_consistency_for_all_pairs_up_to_40():
    for second in range(1, 41):
        perfect = merkle.list_perfect(LEAVES[:second])
        second_root = merkle.root_of(LEAVES[:second])
        for first in range(0, second + 1):
            first_root = merkle.root_of(LEAVES[:first])
            proof = merkle.consistency_proof(first, second, perfect)
            if 0 < first:
                assert proof == ref_subproof(first, DATA[:second], True), (first, second)
            assert merkle.verify_consistency(first, second, first_root, second_root, proof), (first, second)
            if 0 < first < second:
                assert not merkle.verify_consistency(first, second, sha(first_root), second_root, proof)
                assert not merkle.verify_consistency(first, second, first_root, sha(second_root), proof)
                bad = list(proof)
                bad[0] = sha(bad[0])
                assert not merkle.verify_consistency(first, second, first_root, second_root, bad)
    # a rewritten history: the same size, another leaf inside the first tree
    other = list(LEAVES[:20])
    other[3] = merkle.leaf_hash(b"rewritten")
    proof = merkle.consistency_proof(10, 20, merkle.list_perfect(other))
    assert not merkle.verify_consistency(10, 20, merkle.root_of(LEAVES[:10]), merkle.root_of(other), proof)


def test_compact_range_yields_the_nodes_and_the_root():
    edge, made = merkle.CompactRange(), {}
    for i, leaf in enumerate(LEAVES):
        for level, idx, h in edge.append(leaf, keep_from=2):
            made[(level, idx)] = h
        assert edge.root() == ref_mth(DATA[:i + 1])
    perfect = merkle.list_perfect(LEAVES)
    assert made == {(lv, ix): perfect(lv, ix) for lv in range(2, 7) for ix in range(70 >> lv)}


def _stored(conn) -> dict:
    return {(lv, ix): bytes(h) for lv, ix, h in conn.execute("SELECT level, idx, hash FROM merkle_nodes")}


def _expected(conn) -> tuple[dict, int]:
    bodies = [bytes(b) for (b,) in conn.execute("SELECT body FROM audit_log ORDER BY seq")]
    perfect = merkle.list_perfect([merkle.leaf_hash(b) for b in bodies])
    n = len(bodies)
    return ({(lv, ix): perfect(lv, ix) for lv in range(merkle_nodes.LEVEL, n.bit_length())
             for ix in range(n >> lv)}, n)


def test_stored_nodes_equal_the_recomputed_ones_across_transactions_and_after_the_backfill(service, db_path, db_key):
    for i in range(30):  # each its own write transaction; some 60 entries
        wid = service.create_workflow_request("expense_approval", f"Trip {i}", "", "john.doe", {"amount": 100 + i})
        if i % 2:
            service.approve_workflow(wid, "sarah.manager", "ok")
    conn = raw_connection(db_path, db_key)
    expected, n = _expected(conn)
    assert n >= 48 and len(expected) >= 3 and _stored(conn) == expected
    # an older database: no nodes at all; migration 9's step builds them from the bodies
    conn.execute("DELETE FROM merkle_nodes")
    (step,) = [s for num, _name, s in MIGRATIONS if num == 9]
    from hitl_tui.core.store.migrations import PYTHON_STEPS

    PYTHON_STEPS[9](conn)
    assert "merkle_nodes" in step and _stored(conn) == expected
    conn.close()
    assert service.verify_audit().ok


def test_verify_audit_names_the_first_stored_node_that_differs(service, db_path, db_key):
    for i in range(12):
        service.create_workflow_request("expense_approval", f"Trip {i}", "", "john.doe", {"amount": 100 + i})
    service.checkpoint()
    assert service.verify_audit().ok
    conn = raw_connection(db_path, db_key)
    conn.execute("UPDATE merkle_nodes SET hash = ? WHERE level = 4 AND idx = 0", (bytes(32),))
    conn.commit()
    result = service.verify_audit()
    assert not result.ok and "node at level 4, index 0 (entries 1 to 16) differs" in result.problem
    conn.execute("DELETE FROM merkle_nodes WHERE level = 4 AND idx = 0")
    conn.commit()
    assert "is missing" in service.verify_audit().problem
    conn.close()


def test_a_proof_from_the_store_verifies_against_the_signed_root(service):
    for i in range(40):
        service.create_workflow_request("expense_approval", f"Trip {i}", "", "john.doe", {"amount": 100 + i})
    cp = service.checkpoint()
    (proof,) = service.prove_entries([37], cp)
    assert len(proof.path) == len(ref_path(36, [b""] * cp.size))
    assert merkle.verify_inclusion(36, cp.size, bytes.fromhex(proof.leaf_hash), [bytes.fromhex(h) for h in proof.path],
                                   bytes.fromhex(cp.root_hash))


def test_older_format_checkpoints_in_files_and_in_the_database_still_verify(service, tmp_path, db_path, db_key):
    import json

    from hitl_tui.core.audit import iso, utc_now
    from hitl_tui.core.checkpoints import checkpoint_message, read_checkpoint_file
    from hitl_tui.core.models import Checkpoint

    for i in range(5):
        service.create_workflow_request("expense_approval", f"Trip {i}", "", "john.doe", {"amount": 100 + i})
    service.checkpoint()  # registers this account's key
    signer = service.signer(create=False)
    size, head = service.audit_size(), service.verify_audit().head_hash
    now = utc_now()
    sig = signer._key().sign(checkpoint_message(service.database_id, size, head, now)).hex()
    legacy = {"format": "hitl-tui-checkpoint/1", "database_id": service.database_id, "size": size, "head_hash": head,
              "created_at": iso(now), "public_key": signer.public_hex, "fingerprint": "x", "signature": sig}
    path = tmp_path / "old.json"
    path.write_text(json.dumps(legacy))
    cp = read_checkpoint_file(path)
    assert cp.note is None and service.verify_audit([cp]).external_checkpoints_checked == 1
    conn = raw_connection(db_path, db_key)
    conn.execute("INSERT INTO checkpoints (size, head_hash, created_at, public_key, signature) VALUES (?, ?, ?, ?, ?)",
                 (size, head, iso(now), signer.public_hex, sig))
    conn.commit()
    conn.close()
    result = service.verify_audit()
    assert result.ok and result.checkpoints_checked == 2
    assert isinstance(Checkpoint, type)
