"""A search the CLI hands RemoteService as a parsed Filter (the compliance flags' related
requests) travels as filter text, which the service parses itself: the text must parse back to
the very same Filter."""

from __future__ import annotations

import pytest

from hitl_tui.core.filter_query import Condition, Filter, parse_filter
from hitl_tui.remote.client import _search_text

TYPES = ("expense_approval", "contract_approval", "infrastructure_change")


@pytest.mark.parametrize("typed", [
    "travel", '"two words" berlin', 'ab"c', "risk:>=high type:expense age:>2d", "amount:>1000 -value",
    "requester:=john.doe type:expense_approval", "requester:joh id:WF-17 status:pending,approved",
    "stage:director,manager risk:low,critical amount:<=2,500.50 age:<90m",
])
def test_a_parsed_search_written_back_parses_to_the_same_filter(typed):
    parsed = parse_filter(typed, types=TYPES)
    assert parse_filter(_search_text(parsed), types=TYPES) == parsed


def test_the_related_requests_filter_of_the_compliance_flags_travels_as_text():
    built = Filter(terms=(), conditions=(Condition("requester", "=", ("john.doe",), exact=True),
                                          Condition("type", "=", ("expense_approval",))))
    assert _search_text(built) == "requester:=john.doe type:expense_approval"
    assert parse_filter(_search_text(built), types=TYPES) == built
    assert _search_text(Filter()) is None and _search_text("as typed") == "as typed"
