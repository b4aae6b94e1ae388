"""The filter language and sort vocabulary, parsed alone (no database): core/filter_query.py."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitl_tui.core.errors import FilterError, ValidationFailed
from hitl_tui.core.filter_query import (
    KEYS,
    SORT_KEYS,
    Condition,
    SortOrder,
    parse_filter,
    parse_sort,
    sort_choices,
)
from hitl_tui.core.policy import load_policy

TYPES = tuple(load_policy().types)


def parse(text):
    return parse_filter(text, types=TYPES)


def test_words_become_quoted_prefix_terms_and_phrases_stay_exact():
    f = parse('trav "hotel quote" WF-1764')
    assert f.terms == ('"trav"*', '"hotel quote"', '"WF-1764"*')
    assert f.match == '"trav"* AND "hotel quote" AND "WF-1764"*'
    assert f.conditions == ()


def test_fts5_syntax_in_user_text_is_only_ever_quoted_text():
    f = parse('a OR b NEAR(c d) ^e f* -g "h""i" {title}')
    # every piece is one quoted string; a quote inside is doubled, so nothing is an operator
    assert f.terms == ('"a"*', '"OR"*', '"b"*', '"NEAR(c"*', '"d)"*', '"^e"*', '"f*"*', '"-g"*', '"h"', '"i"',
                       '"{title}"*')


def test_text_without_letters_or_digits_is_no_term_and_an_open_quote_runs_to_the_end():
    assert parse("- ... ** \"\"").terms == ()
    assert not parse("   ")
    assert parse('"open phrase').terms == ('"open phrase"',)


def test_every_key_and_its_normalised_values():
    f = parse("risk:>=high risk:low,crit type:expense,cust status:pending stage:dir requester:john "
              "requester:=john.doe id:wf-17 id:=WF-1-0001 age:>2d age:<1d12h amount:>1,000 value:<=15k")
    assert f.conditions == (
        Condition("risk", ">=", (2,)),
        Condition("risk", "=", (0, 3)),
        Condition("type", "=", ("customer_escalation", "expense_approval")),
        Condition("status", "=", ("awaiting_approval",)),
        Condition("stage", "=", ("director",)),
        Condition("requester", "=", ("john",)),
        Condition("requester", "=", ("john.doe",), exact=True),
        Condition("id", "=", ("WF-17",)),
        Condition("id", "=", ("WF-1-0001",), exact=True),
        Condition("age", ">", (2 * 86400,)),
        Condition("age", "<", (36 * 3600,)),
        Condition("amount", ">", (Decimal("1000"),)),
        Condition("amount", "<=", (Decimal("15000"),)),
    )
    assert parse('Risk:HIGH requester:"a.b" stage:it-admin type:"expense_approval"').conditions == (
        Condition("risk", "=", (2,)), Condition("requester", "=", ("a.b",)), Condition("stage", "=", ("it_admin",)),
        Condition("type", "=", ("expense_approval",)))
    # a type prefix names every type it begins
    assert parse("type:c").conditions[0].values == ("contract_approval", "customer_escalation")


@pytest.mark.parametrize(("text", "token", "says"), [
    ("colour:red", "colour:red", "unknown key 'colour'; use one of risk:, type:"),
    ("travel risk:hgh", "risk:hgh", "unknown risk level 'hgh' (LOW, MEDIUM, HIGH or CRITICAL)"),
    ("risk:>>high", "risk:>>high", "'>>' is not an operator"),
    ("risk:=<high", "risk:=<high", "'=<' is not an operator"),
    ("type:>expense", "type:>expense", "type cannot be compared with '>'"),
    ("type:laptop", "type:laptop", "no workflow type 'laptop'; the policy has access_request, budget_allocation"),
    ("status:done", "status:done", "unknown status 'done' (one of awaiting_approval, approved"),
    ("status:a", "status:a", "unknown status 'a'"),  # approved or awaiting_approval: ambiguous
    ("stage:boss", "stage:boss", "unknown role 'boss' (one of employee, manager"),
    ("age:2d", "age:2d", "age needs > (older than) or < (newer than)"),
    ("age:>2 days", "age:>2", None),  # the space ends the piece: "2" has no unit
    ("age:>2y", "age:>2y", "'2y' is not a duration: a number and a unit, s m h d or w"),
    ("amount:>lots", "amount:>lots", "'lots' is not an amount"),
    ("risk:", "risk:", "no value after the key; risk takes a risk level"),
    ("risk:high,", "risk:high,", "an empty value in the list"),
    ("risk:>high,low", "risk:>high,low", "a list of values cannot be compared with '>'"),
    ("requester:o'brien", "requester:o'brien", "cannot start one: a username has letters"),
    ("id:WF/1", "id:WF/1", "cannot start one: a request id has letters, digits and '-'"),
])
def test_bad_pieces_get_one_line_naming_the_piece_and_what_is_allowed(text, token, says):
    with pytest.raises(FilterError) as caught:
        parse(text)
    line = str(caught.value)
    assert "\n" not in line and line.startswith(f"Bad filter {token!r}: ")
    assert caught.value.token == token and caught.value.field == "search"
    if says:
        assert says in line
    assert isinstance(caught.value, ValidationFailed)  # every caller that handles input errors handles it


def test_limits_and_invalid_text_are_filter_errors_too():
    with pytest.raises(FilterError, match="at most 32 are allowed"):
        parse(" ".join(f"w{i}" for i in range(33)))
    with pytest.raises(FilterError, match="at most 1000 are allowed"):
        parse("x" * 1001)
    with pytest.raises(FilterError, match="NUL"):
        parse("a\x00b")
    with pytest.raises(FilterError, match="lone surrogate"):
        parse("a\udcffb")


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.sampled_from([*':"<>=,-*^()._ ', *(f"{k}:" for k in KEYS), "high", "2d", "1000"]),
                          st.text(max_size=6)), max_size=14).map("".join))
def test_parsing_is_total(text):
    """Any text: a Filter, or a FilterError with one line. Never another exception."""
    try:
        f = parse(text)
    except FilterError as exc:
        assert "\n" not in str(exc) and str(exc)
        return
    for term in f.terms:  # each term one FTS5 string: quotes balanced, nothing outside them
        body = term.removesuffix("*")
        assert body.startswith('"') and body.endswith('"') and '"' not in body[1:-1].replace('""', "")


def test_sort_vocabulary():
    assert parse_sort("oldest") == SortOrder("created") and parse_sort(None) == SortOrder("created")
    assert parse_sort("newest") == SortOrder("created", True)
    assert parse_sort("risk") == SortOrder("risk") and parse_sort("risk").label == "Risk, highest first"
    assert parse_sort("-risk").label == "Risk, lowest first"
    assert parse_sort(" -Value ") == SortOrder("value", True) and parse_sort("-value").spec == "-value"
    assert parse_sort(SortOrder("title")) == SortOrder("title")
    assert [parse_sort(c).spec for c in sort_choices()][:2] == ["created", "-created"]
    assert set(SORT_KEYS) == {"created", "title", "requester", "type", "id", "value", "risk", "stage", "status",
                              "due"}
    with pytest.raises(FilterError) as caught:
        parse_sort("colour")
    assert str(caught.value) == ("Unknown sort 'colour'; use oldest, newest, or one of created, risk, title, "
                                 "requester, type, id, value, stage, status, due ('-' before it reverses, e.g. "
                                 "-created, -value).")
    assert caught.value.field == "sort"
