"""Property-based fuzz of the Direct API (issue 8): arbitrary text (lone surrogates, NUL, C0/C1
controls, bidi overrides, non-ASCII digits, huge strings), amounts and data go into every public
call. Whatever goes in, a call either succeeds or raises a HitlError whose message is one line of
valid text; a refused call writes nothing (every table and the audit log are byte-identical
after it), and the chain always verifies."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from hitl_tui.core.errors import HitlError
from hitl_tui.core.service import WorkflowService
from tests.cast import SEED_CAST
from tests.table_digest import tables_digest

from .conftest import raw_connection

HOSTILE = ["\x00", "\ud800", "\udcff", "\udfff", "\x1b[2J", "\x07", "\x9b31m", "\x7f", "\u202e", "\u2066", "\u2028",
           "\ufeff", "१२३", "１２", "\n", "\r\n", "\t", " ", "'", "\"", "\\", "=1+1", "-", ",", ".", "$", "k", "e",
           "WF-1-0001", "john.doe", "sarah.manager", "travel", "high", "\U0001F680", "\U000e0041"]

chars = st.characters(exclude_categories=())  # every code point, lone surrogates included
hostile = st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(chars, max_size=5)), min_size=1, max_size=6).map("".join)
NASTY = ["\x00", "\ud800", "\udcff", "\udfff", "\x1b[2J", "\x9b", "\u202e", "\u2028", "१२३"]
# one nasty character inside an otherwise plausible value: the case a real caller hits
nasty = st.tuples(st.sampled_from(["", "Trip ", "sarah.manager", "WF-1-0001", "500"]), st.sampled_from(NASTY),
                  st.text(chars, max_size=3)).map("".join)
texts = st.one_of(
    nasty, hostile, st.text(chars, max_size=30),
    st.sampled_from([0, 1, 199, 200, 201, 499, 500, 501, 5000, 10_001, 100_000]).map(lambda n: "x" * n),
)
amounts = st.one_of(
    st.integers(), st.integers(min_value=-10, max_value=10**6), st.floats(), st.decimals(),
    st.sampled_from(["0", "-0", "0.00", "1e300", "1" + "0" * 30, "9" * 5000, "15k", "15,000.00", "$15,000",
                     "१२३", "1.005", "NaN", "Infinity", "(5)", "5-3", "12e3", "0x10", 10**30, 1e300, -0.0]),
    texts, st.none(), st.booleans(),
)
anything = st.one_of(texts, texts, amounts, st.lists(texts, max_size=2), st.dictionaries(texts, texts, max_size=2))
FIELDS = ["amount", "category", "cost_center", "impact", "contract_value", "term_months", "credit_amount"]


def snapshot(path, key) -> str:
    """Every row of every table, hashed: equal snapshots mean nothing at all was written."""
    conn = raw_connection(path, key)
    try:
        return tables_digest(conn)
    finally:
        conn.close()


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    from tests.keyring_session import isolated_home

    # a module fixture runs before the per-test isolated home: without its own, the signing keys
    # these people get would land in the real home directory
    with isolated_home(tmp_path_factory.mktemp("fuzz-home")):
        path, key = tmp_path_factory.mktemp("fuzz") / "hitl.db", os.urandom(32)
        svc = WorkflowService.open(path, key=key)
        for name, role in SEED_CAST.items():
            svc.add_user(name, role)
        svc.add_user("fuzz.target", "employee")
        yield svc, path, key
        svc.close(checkpoint=False)


def _target(svc, state: str) -> str:
    """A fresh request in the state the operation needs (made before the snapshot)."""
    wid = svc.create_workflow_request("expense_approval", "Fuzz target", "d", "john.doe", {"amount": 500})
    if state == "changes_requested":
        svc.request_changes(wid, "sarah.manager", "Attach the receipt")
    return wid


# operation -> (engine method, the state its request needs or None, valid keyword arguments)
OPS = {
    "create": ("create_workflow_request", None, dict(
        workflow_type="expense_approval", title="Trip", description="d", requester="john.doe",
        data={"amount": 500, "category": "travel"})),
    "approve": ("approve_workflow", "awaiting", dict(approver="sarah.manager", comments="ok")),
    "reject": ("reject_workflow", "awaiting", dict(rejector="sarah.manager", reason="no")),
    "changes": ("request_changes", "awaiting", dict(approver="sarah.manager", comments="fix it")),
    "withdraw": ("withdraw_workflow", "awaiting", dict(requester="john.doe", reason="")),
    "resubmit": ("resubmit", "changes_requested", dict(
        requester="john.doe", title="Trip 2", description="d2", data={"amount": 700}, comments="fixed")),
    "add_user": ("add_user", None, dict(role="employee", email="a@example.com", display_name="Ann")),
    "set_role": ("set_user_role", None, dict(username="fuzz.target", role="employee")),
    "read": ("get_workflow", "awaiting", {}),
    "trail": ("get_audit_trail", "awaiting", {}),
    "inbox": ("list_requests", None, dict(viewer="sarah.manager", view="visible", search="Trip")),
    "pending": ("get_pending_approvals", None, dict(username="sarah.manager")),
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(op=st.sampled_from(list(OPS)), pick=st.integers(0, 10), value=anything,
       field=st.one_of(st.sampled_from(FIELDS), texts), field_value=st.one_of(amounts, anything))
def test_every_call_succeeds_or_refuses_in_one_line_and_writes_nothing(desk, op, pick, value, field, field_value):
    """Valid arguments with one of them (or one data field) replaced by fuzz."""
    svc, path, key = desk
    method, state, valid = OPS[op]
    kwargs = dict(valid)
    if state:
        kwargs["workflow_id"] = _target(svc, state)
    if op == "add_user":
        kwargs["username"] = f"user.{svc.audit_size()}"
    names = sorted(kwargs)
    chosen = names[pick % len(names)] if names else None
    if chosen == "data" and pick % 2:
        kwargs["data"] = {**kwargs["data"], field: field_value}  # one data field fuzzed
    elif chosen:
        kwargs[chosen] = value
    before, size = snapshot(path, key), svc.audit_size()
    try:
        result = getattr(svc, method)(**kwargs)
    except HitlError as exc:
        event(f"{op}: refused ({type(exc).__name__})")
        message = str(exc)
        assert message and "\n" not in message and "\r" not in message, repr(message)
        message.encode("utf-8")  # valid text: printable by any caller
        assert snapshot(path, key) == before, f"{op} was refused ({message}) but wrote something"
        assert svc.audit_size() == size
        return
    event(f"{op}: done")
    if op == "create":
        stored = svc.get_workflow(result)
        assert stored.title == kwargs["title"].strip()
        for value in stored.data.values():
            if isinstance(value, Decimal):
                assert value.is_finite() and not value.is_signed() and Decimal("0.01") <= value < Decimal("1e15")
    verified = svc.verify_audit()
    assert verified.ok, verified.problem
