"""The policy's privacy settings: text fields marked personal, and retain_personal per type."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from hitl_tui.core.errors import PolicyError
from hitl_tui.core.policy import default_policy_text, load_policy


def _with(tmp_path: Path, after: str, lines: str) -> Path:
    """The default policy with `lines` added under the table header `after` (a [types.NAME]
    table in a policy file replaces the whole type, so the file holds it in full)."""
    text = default_policy_text()
    assert f"{after}\n" in text
    path = tmp_path / "policy.toml"
    path.write_text(text.replace(f"{after}\n", f"{after}\n{lines}\n", 1))
    return path


def test_the_default_policy_marks_customers_personal_and_keeps_forever():
    policy = load_policy()
    assert policy.workflow_type("refund_approval").personal_fields == ("customer",)
    assert policy.workflow_type("customer_escalation").personal_fields == ("customer",)
    assert policy.workflow_type("expense_approval").personal_fields == ()
    assert all(t.retain_personal is None for t in policy.types.values())


@pytest.mark.parametrize("text, span", [("P2Y", timedelta(days=730)), ("P90D", timedelta(days=90)),
                                        ("PT30S", timedelta(seconds=30)), ("P1M", timedelta(days=30))])
def test_retain_personal_is_an_iso_8601_duration(tmp_path, text, span):
    policy = load_policy(_with(tmp_path, "[types.refund_approval]", f'retain_personal = "{text}"'))
    assert policy.workflow_type("refund_approval").retain_personal == span
    assert policy.workflow_type("refund_approval").retain_text == text


@pytest.mark.parametrize("value", ['"2 years"', '"PT0S"', "730", '"-P1D"', '""'])
def test_a_bad_retention_is_refused_in_one_line(tmp_path, value):
    with pytest.raises(PolicyError, match="retain_personal .* is not a positive ISO 8601 duration"):
        load_policy(_with(tmp_path, "[types.refund_approval]", f"retain_personal = {value}"))


def test_only_a_text_field_can_be_personal(tmp_path):
    with pytest.raises(PolicyError, match="only text fields can be marked personal"):
        load_policy(_with(tmp_path, "[types.refund_approval.fields.amount]", "personal = true"))
    with pytest.raises(PolicyError, match="personal must be true or false"):
        load_policy(_with(tmp_path, "[types.refund_approval.fields.order_id]", 'personal = "yes"'))
