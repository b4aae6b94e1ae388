"""Bad input that used to get through (issue 8): lone surrogates and NUL in every text field,
amounts that crashed or meant nothing, non-ASCII digits, and the one neutralising function
every export format and the CLI use for text that reaches a terminal."""

from __future__ import annotations

import json
import os
from decimal import Decimal

import pytest

from hitl_tui.core import WorkflowSystem
from hitl_tui.core.audit import canonical_bytes, chain_hash
from hitl_tui.core.errors import HitlError, PolicyError, ValidationFailed
from hitl_tui.core.policy import default_policy_text, load_policy
from hitl_tui.core.reports.entries import body_from_export, jsonl_line
from hitl_tui.core.text import neutralise
from hitl_tui.core.values import parse_integer, parse_money

S = "\ud800"  # a lone surrogate: what a non-UTF-8 byte becomes under surrogateescape, or bad JSON


def _calls(svc, wid: str):
    """label -> (the field the refusal must name, the call), for every text a caller can hand
    the engine."""
    def create(*args):
        return svc.create_workflow_request(*args)

    ok_data = {"amount": 500, "category": "travel"}
    return {
        "username": ("username", lambda: svc.add_user("new" + S, "employee")),
        "role": ("role", lambda: svc.add_user("new.one", "employee" + S)),
        "email": ("email", lambda: svc.add_user("new.one", "employee", email="a" + S + "@example.com")),
        "display_name": ("display_name", lambda: svc.add_user("new.one", "employee", display_name="Ann" + S)),
        "workflow_type": ("workflow_type", lambda: create("expense" + S, "t", "d", "john.doe", ok_data)),
        "title": ("title", lambda: create("expense_approval", "Trip" + S, "d", "john.doe", ok_data)),
        "description": ("description", lambda: create("expense_approval", "t", "d" + S, "john.doe", ok_data)),
        "requester": ("requester", lambda: create("expense_approval", "t", "d", "john" + S, ok_data)),
        "data key": ("data field name", lambda: create("expense_approval", "t", "d", "john.doe",
                                                       {**ok_data, "x" + S: 1})),
        "data text": ("cost_center", lambda: create("expense_approval", "t", "d", "john.doe",
                                                    {**ok_data, "cost_center": "x" + S})),
        "data choice": ("category", lambda: create("expense_approval", "t", "d", "john.doe",
                                                   {"amount": 5, "category": S})),
        "data money": ("amount", lambda: create("expense_approval", "t", "d", "john.doe", {"amount": "5" + S})),
        "comments": ("comments", lambda: svc.approve_workflow(wid, "sarah.manager", "fine" + S)),
        "reason": ("reason", lambda: svc.reject_workflow(wid, "sarah.manager", "no" + S)),
        "approver": ("approver", lambda: svc.approve_workflow(wid, "sarah" + S, "ok")),
        "workflow id": ("workflow_id", lambda: svc.get_workflow(wid + S)),
        "viewer": ("viewer", lambda: svc.list_requests("sarah" + S)),
        "search": ("search", lambda: svc.list_requests("sarah.manager", "visible", search="x" + S)),
        "pending for": ("username", lambda: svc.get_pending_approvals("sarah" + S)),
        "new role": ("role", lambda: svc.set_user_role("john.doe", "manager" + S)),
        "withdraw": ("reason", lambda: svc.withdraw_workflow(wid, "john.doe", S)),
        "resubmit": ("title", lambda: svc.resubmit(wid, "john.doe", title=S)),
        "policy": ("policy", lambda: svc.apply_policy(default_policy_text().replace('"Amount"', f'"A{S}"', 1))),
        "actor": ("actor", lambda: svc.set_user_active("john.doe", False, actor="root" + S)),
    }


CALLS = list(_calls(None, ""))


@pytest.mark.parametrize("label", CALLS)
def test_lone_surrogate_is_refused_naming_the_field(service, label):
    wid = service.create_workflow_request("expense_approval", "Trip", "d", "john.doe", {"amount": 500})
    before = service.audit_size()
    field, call = _calls(service, wid)[label]
    with pytest.raises(ValidationFailed) as err:
        call()
    message = str(err.value)
    assert message.startswith(f"{field} contains a lone surrogate (U+D800), which is not valid text"), message
    assert "\n" not in message and S not in message
    message.encode("utf-8")  # printable anywhere
    assert service.audit_size() == before and service.verify_audit().ok


def test_a_byte_that_is_not_utf8_gets_a_hint(service):
    # surrogateescape turns the byte 0xff of a command-line argument into U+DCFF
    with pytest.raises(ValidationFailed, match=r"title contains a lone surrogate \(U\+DCFF\).*not UTF-8"):
        service.create_workflow_request("expense_approval", "Trip \udcff", "d", "john.doe", {"amount": 5})


async def test_the_async_direct_api_refuses_them_too(tmp_path):
    async with await WorkflowSystem.open(tmp_path / "hitl.db", key=os.urandom(32)) as system:
        await system.add_user("john.doe", "employee")
        await system.add_user("sarah.manager", "manager")
        wid = await system.create_workflow_request("expense_approval", "Trip", "d", "john.doe", {"amount": 500})
        size = system.service.audit_size()
        for call, field in [
            (system.add_user("x" + S, "employee"), "username"),
            (system.add_user("x.y", "employee", email=S), "email"),
            (system.create_workflow_request("expense_approval", S, "d", "john.doe", {"amount": 5}), "title"),
            (system.create_workflow_request("expense_approval", "t", "d", "john.doe",
                                            {"amount": 5, "cost_center": S}), "cost_center"),
            (system.approve_workflow(wid, "sarah.manager", S), "comments"),
            (system.reject_workflow(wid, "sarah.manager", S), "reason"),
            (system.request_changes(wid, "sarah.manager", S), "comments"),
            (system.withdraw_workflow(wid, "john.doe", S), "reason"),
            (system.resubmit(wid, "john.doe", title=S), "title"),
            (system.get_workflow(S), "workflow_id"),
            (system.get_audit_trail(S), "workflow_id"),
            (system.get_pending_approvals(S), "username"),
            (system.get_user(S), "username"),
        ]:
            with pytest.raises(ValidationFailed, match=rf"^{field} contains a lone surrogate"):
                await call
        assert system.service.audit_size() == size and system.verify_audit().ok


@pytest.mark.parametrize("data", [{"cost_center": "A\x00B"}, {"category": "travel\x00"}])
def test_nul_is_refused_in_data_as_everywhere(service, data):
    before = service.audit_size()
    with pytest.raises(ValidationFailed, match=r"contains a NUL character \(U\+0000\)"):
        service.create_workflow_request("expense_approval", "t", "d", "john.doe", {"amount": 5, **data})
    assert service.audit_size() == before


def test_nul_in_a_title_still_refused_the_same_way(service):
    with pytest.raises(ValidationFailed, match=r"^title contains a NUL character \(U\+0000\)"):
        service.create_workflow_request("expense_approval", "a\x00b", "d", "john.doe", {"amount": 5})


# --- amounts -----------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [10**30, 1e300, "1" + "0" * 30, Decimal("1e300"), "9999999999999k", "2000000000m",
                                   Decimal("1E+999999"), pytest.param("9" * 5000, id="5000 nines")])
def test_huge_amounts_are_implausibly_large_not_a_crash(value):
    with pytest.raises(ValidationFailed, match="implausibly large"):
        parse_money("amount", value)


@pytest.mark.parametrize("value", [10**30, 1e300, "1" + "0" * 30, pytest.param("9" * 5000, id="5000 nines")])
def test_huge_integers_are_implausibly_large(value):
    with pytest.raises(ValidationFailed, match="implausibly large"):
        parse_integer("term_months", value)


@pytest.mark.parametrize("value", [-0.0, Decimal("-0"), Decimal("-0.000"), "-0", "-0.00", 0])
def test_negative_zero_is_zero(value):
    amount = parse_money("credit_amount", value)
    assert amount == 0 and str(amount) == "0.00" and not amount.is_signed()


@pytest.mark.parametrize("value", ["१२३", "１２３", "١٢٣", "12३", "1,००0"])
def test_non_ascii_digits_are_refused_with_a_hint(value):
    with pytest.raises(ValidationFailed, match="digits 0-9"):
        parse_money("amount", value)
    with pytest.raises(ValidationFailed, match="digits 0-9"):
        parse_integer("term_months", value)


@pytest.mark.parametrize("wtype,data,field", [
    ("expense_approval", {"amount": 0}, "amount"),
    ("expense_approval", {"amount": "0.00"}, "amount"),
    ("expense_approval", {"amount": "-0"}, "amount"),
    ("refund_approval", {"amount": "$0", "customer": "ACME"}, "amount"),
    ("contract_approval", {"contract_value": 0}, "contract_value"),
    ("contract_approval", {"contract_value": 100, "term_months": 0}, "term_months"),
])
def test_zero_for_a_field_with_a_minimum_is_refused(service, wtype, data, field):
    with pytest.raises(ValidationFailed, match=rf"^{field} must be at least") as err:
        service.create_workflow_request(wtype, "t", "d", "john.doe", data)
    assert err.value.field == field


def test_zero_where_it_means_something_is_kept(service):
    wid = service.create_workflow_request("customer_escalation", "t", "d", "john.doe",
                                          {"severity": "low", "credit_amount": "-0"})
    assert str(service.get_workflow(wid).data["credit_amount"]) == "0.00"


def test_minimum_comes_from_the_policy(tmp_path):
    policy = load_policy()
    assert policy.workflow_type("expense_approval").field("amount").minimum == Decimal("0.01")
    assert policy.workflow_type("customer_escalation").field("credit_amount").minimum is None
    own = tmp_path / "policy.toml"
    own.write_text(
        '[types.laptop]\nname = "Laptop"\n'
        '[types.laptop.fields.price]\nkind = "money"\nrequired = true\nminimum = "300"\n'
        '[types.laptop.risk]\nfield = "price"\nbands = [{ below = "2000", level = "LOW" }]\notherwise = "HIGH"\n'
        '[types.laptop.chains]\nLOW = ["manager"]\nMEDIUM = ["manager"]\nHIGH = ["manager"]\nCRITICAL = ["manager"]\n')
    laptop = load_policy(own)
    with pytest.raises(ValidationFailed, match=r"price must be at least 300"):
        laptop.assess("laptop", {"price": 299})
    assert laptop.assess("laptop", {"price": 300}).data["price"] == Decimal("300.00")
    own.write_text(own.read_text().replace('minimum = "300"', 'minimum = "lots"'))
    with pytest.raises(PolicyError, match="minimum"):
        load_policy(own)


# --- neutralising text for terminals and files -------------------------------------------------

HOSTILE = "Pay \x1b[2J\x1b]0;pwned\x07 me \x9b31m \u202eRTL\u2066 \u2028 \x7f \U000e0041 ok"


def test_neutralise_makes_every_control_visible():
    shown = neutralise(HOSTILE)
    for bad in ("\x1b", "\x07", "\x9b", "\u202e", "\u2066", "\u2028", "\x7f", "\U000e0041"):
        assert bad not in shown
    assert "\\x1b[2J" in shown and "\\x9b31m" in shown and "\\u202e" in shown and "\\U000e0041" in shown
    assert neutralise("tab\there\nline", keep="\n\t") == "tab\there\nline"
    assert neutralise("plain ünïcödé 中文 \U0001F680") == "plain ünïcödé 中文 \U0001F680"


def test_neutralise_json_style_is_valid_json_for_the_same_text():
    escaped = neutralise(json.dumps({"t": HOSTILE}, ensure_ascii=False), style="json")
    assert escaped.isprintable() and json.loads(escaped) == {"t": HOSTILE}


def test_jsonl_line_escapes_controls_and_still_reproduces_the_hashed_bytes():
    rec = {"seq": 1, "actor": "a", "action": "created", "details": {"title": HOSTILE}, "prev_hash": "00" * 32}
    body = canonical_bytes(rec)
    assert "\x9b".encode() in body and "\u202e".encode() in body  # stored verbatim
    line = jsonl_line(1, body, chain_hash(bytes(32), body))
    text = line.decode("utf-8")
    assert text[:-1].isprintable() and "\\u009b" in text and "\\u202e" in text
    assert body_from_export(json.loads(line))[0] == body


def test_every_refusal_here_is_one_line():
    for bad in ("x\n\ny", "\x1b[2J", S):
        try:
            parse_money("amount", bad)
        except HitlError as exc:
            assert "\n" not in str(exc) and "\x1b" not in str(exc) and S not in str(exc)


@pytest.mark.parametrize("kw,field", [(dict(actors=("a" + S,)), "user"), (dict(workflow_ids=("WF\x00",)), "workflow"),
                                      (dict(since="\udcff"), "since"), (dict(workflow_types=(S,)), "type")])
def test_export_filters_refuse_them_too(kw, field):
    from hitl_tui.core.reports import ExportFilter

    with pytest.raises(ValidationFailed, match=rf"^{field} contains a (lone surrogate|NUL)"):
        ExportFilter.build(load_policy(), **kw)
