"""`hitl-tui request list --search FILTER --sort ORDER`, through the installed console script:
the filter language, its one-line refusals (exit 1), a bad sort (usage error, exit 2), and the
full-text index surviving a kill -9 in the middle of a write."""

from __future__ import annotations

import pytest
import sqlcipher3

from .conftest import ME, file_request, set_my_role


@pytest.fixture
def filed(ready):
    set_my_role(ready, "executive")  # oversight: every request is visible
    ids = {
        "travel": file_request(ready, title="Executive travel to Singapore", data={"amount": "15000", "category": "travel"}),
        "dinner": file_request(ready, title="Client dinner", requester="sarah.manager", description="travel not needed",
                               data={"amount": "300", "category": "meals"}),
        "db": file_request(ready, title="Database migration", wtype="infrastructure_change", requester="ian.itadmin",
                           description="Orders DB", data={"impact": "high", "system": "orders"}),
    }
    return ready, ids


def listed(cli, *args: str) -> list[str]:
    return [r["id"] for r in cli.json("request", "list", "--view", "visible", "--json", *args)]


def test_the_filter_language_and_column_sorts(filed):
    cli, ids = filed
    assert set(listed(cli, "--search", "trav")) == {ids["travel"], ids["dinner"]}  # prefix, title or description
    assert listed(cli, "--search", "trav risk:>=high") == [ids["travel"]]
    assert listed(cli, "--search", "requester:sarah") == [ids["dinner"]]
    assert listed(cli, "--search", "type:infra stage:it_admin") == [ids["db"]]
    assert listed(cli, "--search", f"id:{ids['db']}") == [ids["db"]]
    assert listed(cli, "--search", '"travel not"') == [ids["dinner"]]
    assert listed(cli, "--search", "amount:>1k") == [ids["travel"]]
    assert listed(cli, "--sort", "-value", "--search", "type:expense") == [ids["travel"], ids["dinner"]]
    assert listed(cli, "--sort", "value", "--search", "type:expense") == [ids["dinner"], ids["travel"]]
    assert listed(cli, "--sort=-title")[0] == ids["travel"]
    out = cli.ok("request", "list", "--view", "visible", "--search", "nothing-like-this").stdout
    assert out == "No requests in visible matching 'nothing-like-this'.\n"


BAD = [
    ("travel colour:red", "hitl-tui: Bad filter 'colour:red': unknown key 'colour'; use one of risk:, type:, "
                          "requester:, status:, stage:, age:, amount:, id:, due: (or put the text in double quotes to "
                          "search for it)."),
    ("risk:hgh", "hitl-tui: Bad filter 'risk:hgh': unknown risk level 'hgh' (LOW, MEDIUM, HIGH or CRITICAL); risk "
                 "takes a risk level, optionally compared, e.g. risk:high, risk:>=high."),
    ("age:>2y", "hitl-tui: Bad filter 'age:>2y': '2y' is not a duration: a number and a unit, s m h d or w (90m, "
                "2d, 1d12h); age takes time since it was filed, > or < a duration (s m h d w), e.g. age:>2d, age:<3h."),
    ("type:yacht", "hitl-tui: Bad filter 'type:yacht': no workflow type 'yacht'; the policy has access_request, "
                   "budget_allocation, contract_approval, customer_escalation, deployment_approval, expense_approval, "
                   "hiring_approval, infrastructure_change, refund_approval, tool_call."),
]


def test_a_bad_filter_is_one_line_and_exit_1_a_bad_sort_a_usage_error(ready):
    for search, line in BAD:
        result = ready.refused("request", "list", "--view", "visible", "--search", search)
        assert result.stderr == line + "\n" and result.stdout == ""
    result = ready("request", "list", "--sort", "sideways")
    assert result.exit_code == 2 and result.stdout == ""
    assert "Invalid value for '--sort': Unknown sort 'sideways'; use oldest, newest, or one of created, risk" \
        in result.stderr


def test_the_index_and_its_row_survive_a_kill_together(filed):
    """SIGKILL just before and just after the commit of `request create`: the request and its
    words are both there or both absent, and FTS5's own check of the index passes."""
    cli, _ = filed
    for point, kept in (("write.before_commit", False), ("write.after_commit", True)):
        title = f"Zeppelin {point.split('.')[1].replace('_', ' ')}"
        result = cli("request", "create", "--type", "expense_approval", "--title", title, "-f", "amount=50",
                     env={"HITL_CRASH_AT": point})
        assert result.exit_code == -9, result.output
        conn = cli.raw()
        try:
            conn.execute("INSERT INTO requests_fts(requests_fts, rank) VALUES ('integrity-check', 1)")
            rows = conn.execute("SELECT count(*) FROM requests WHERE title = ?", (title,)).fetchone()[0]
            words = conn.execute("SELECT count(*) FROM requests_fts WHERE requests_fts MATCH ?",
                                 (f'"{title}"',)).fetchone()[0]
        except sqlcipher3.DatabaseError as exc:
            pytest.fail(f"after a kill at {point}: {exc}")
        finally:
            conn.close()
        assert rows == words == (1 if kept else 0), point
    assert len(listed(cli, "--search", "zeppelin")) == 1
    assert ME  # the OS login filed it: the view shows it to its requester too
    assert len(cli.json("request", "list", "--view", "mine", "--json", "--search", "zepp")) == 1
