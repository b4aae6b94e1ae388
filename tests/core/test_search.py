"""Search over a real database: the full-text index (migration 5) kept with every change, the
filter language as SQL, permissions unchanged, sorting by every key, and query plans that use
indexes. The expected sets come from a plain-Python reading of the same requests."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hitl_tui.core.errors import FilterError, ValidationFailed
from hitl_tui.core.filter_query import SORT_KEYS, parse_filter, parse_sort
from hitl_tui.core.models import InboxView, RiskLevel
from hitl_tui.core.service import WorkflowService
from hitl_tui.core.store import migrations
from hitl_tui.core.store import requests as req_sql
from tests.core.conftest import CAST, raw_connection, roll_back_schema

VIEWS = list(InboxView)
PEOPLE = [*CAST, "tom.manager", "dana.director"]

# (type, title, description, requester, data): the words, amounts and people the filters pick
FILED = [
    ("expense_approval", "Executive travel to Singapore", "APAC strategy week", "john.doe", {"amount": 15000, "category": "travel"}),
    ("expense_approval", "Conference travel", "Flights and hotel", "john.doe", {"amount": 800, "category": "travel"}),
    ("expense_approval", "Café supplies", "Coffee for the floor", "sam.security", {"amount": 120, "category": "other"}),
    ("expense_approval", "Laptop refresh", "Hotel quote attached", "ian.itadmin", {"amount": 60000, "category": "equipment"}),
    ("infrastructure_change", "Database migration", "Orders DB to PG 16", "ian.itadmin", {"impact": "high", "system": "orders"}),
    ("infrastructure_change", "X-ray of the firewall", "rule review", "john.doe", {"impact": "low", "system": "fw"}),
    ("contract_approval", "Vendor contract renewal", "three years", "sarah.manager", {"contract_value": 600000, "counterparty": "Acme", "term_months": 36}),
    ("customer_escalation", "SLA breach at Acme", "travel credit asked", "tom.manager", {"severity": "critical", "customer": "Acme"}),
    ("expense_approval", "Team offsite", "a day in the hills", "sarah.manager", {"amount": 4000, "category": "other"}),
    ("expense_approval", "Training course", "travel not needed", "dana.director", {"amount": 2500, "category": "training"}),
]


@pytest.fixture
def desk(service):
    """FILED, aged one to ten days, with some decided, sent back and withdrawn."""
    ids = [service.create_workflow_request(t, title, d, who, data) for t, title, d, who, data in FILED]
    service.approve_workflow(ids[1], "sarah.manager")                # approved (one stage)
    service.approve_workflow(ids[0], "sarah.manager")                # now at the director
    service.reject_workflow(ids[2], "tom.manager", "not business")
    service.request_changes(ids[3], "sarah.manager", "attach the quote")
    service.withdraw_workflow(ids[5], "john.doe")
    service.approve_workflow(ids[8], "tom.manager")                  # now at the director
    now = datetime.now(timezone.utc)
    for i, wid in enumerate(ids):  # request i was filed i+1 days ago (two share a second: ties)
        when = (now - timedelta(days=i + 1 if i != 9 else 9)).isoformat(timespec="microseconds")
        service._conn.execute("UPDATE requests SET created_at = ? WHERE id = ?", (when, wid))
    return ids


def everything(svc):
    return {r.id: r for r in svc.list_requests("lisa.executive", "visible", limit=1000)}


def _words(text: str) -> list[str]:
    folded = "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))
    return re.findall(r"[^\W_]+", folded)


def oracle(svc, text: str) -> set[str]:
    """The ids `text` should find, read from the full requests in Python, not SQL."""
    flt = parse_filter(text, types=svc.policy.types)
    out = set()
    now = datetime.now(timezone.utc)
    for wid in everything(svc):
        req = svc.get_workflow(wid)
        words = _words(" ".join([req.id, req.workflow_type, req.title, req.description, req.requester]))
        ok = True
        for term in flt.terms:
            wanted = _words(term.removesuffix("*")[1:-1].replace('""', '"'))
            prefix = term.endswith("*")
            hits = [i for i in range(len(words) - len(wanted) + 1)
                    if all(words[i + k] == w or (prefix and k == len(wanted) - 1 and words[i + k].startswith(w))
                           for k, w in enumerate(wanted))]
            ok &= bool(hits)
        for c in flt.conditions:
            v = c.values
            value = {"risk": req.risk_level.rank, "type": req.workflow_type, "status": req.status.value,
                     "stage": req.current_role.value if req.current_role else None}.get(c.key)
            if c.key in ("type", "status", "stage") or (c.key == "risk" and c.op == "="):
                ok &= value in v
            elif c.key == "risk":
                ok &= eval(f"{value} {'==' if c.op == '=' else c.op} {v[0]}")  # noqa: S307 - our own ints
            elif c.key == "requester":
                ok &= req.requester == v[0] if c.exact else req.requester.lower().startswith(v[0].lower())
            elif c.key == "id":
                ok &= req.id == v[0] if c.exact else req.id.startswith(v[0])
            elif c.key == "age":
                age = (now - req.created_at).total_seconds()
                ok &= age > v[0] if c.op.startswith(">") else age < v[0]
            elif c.key == "amount":
                headline = str(req.data[req.risk_field])
                ok &= headline[0].isdigit() and eval(f"{Decimal(headline)} {'==' if c.op == '=' else c.op} {v[0]}")  # noqa: S307
        if ok:
            out.add(wid)
    return out


FILTERS = [
    "travel", "trav", "TRAVEL", "t", "x", "cafe", "café", '"hotel quote"', '"quote hotel"', "hotel",
    "travel risk:high", "travel risk:>=high", "risk:<medium", "risk:low,critical", "type:expense", "type:infra",
    "type:c", "requester:john", "requester:=john.doe", "requester:JOHN", "requester:john.doe.x",
    "status:approved", "status:pending", "status:changes", "status:rejected,withdrawn", "stage:director",
    "stage:manager travel", "age:>3d", "age:<3d", "age:>=1w", "amount:>1000", "amount:<=800", "amount:=15000",
    "value:>100k", "WF-", "john.doe", "acme", "acme type:customer", "-", "nothing-like-this", "- travel",
    'travel "APAC strategy"', "hills age:<10d requester:sarah",
]


@pytest.mark.parametrize("text", FILTERS)
def test_each_filter_finds_what_python_finds(service, desk, text):
    got = {r.id for r in service.list_requests("lisa.executive", "visible", search=text, limit=1000)}
    assert got == oracle(service, text)
    assert service.count_requests("lisa.executive", "visible", search=text) == len(got)


def test_the_filters_find_something_and_leave_something_out(service, desk):
    """The oracle comparison above means something only if the filters discriminate."""
    sizes = {text: len(oracle(service, text)) for text in FILTERS}
    assert sum(1 for n in sizes.values() if 0 < n < len(desk)) >= 30, sizes
    assert sizes["t"] > sizes["travel"] > sizes["travel risk:high"] > 0
    assert oracle(service, "id:" + desk[4][:-2]) >= {desk[4]}
    assert oracle(service, "cafe") == {desk[2]}  # accents folded both ways
    assert oracle(service, "x") == {desk[5]}     # one letter still works


def test_an_id_prefix_and_an_exact_id(service, desk):
    wid = desk[4]
    assert [r.id for r in service.list_requests("lisa.executive", "visible", search=f"id:={wid}")] == [wid]
    assert {r.id for r in service.list_requests("lisa.executive", "visible", search=f"id:{wid[:-1].lower()}")} \
        == {w for w in desk if w.startswith(wid[:-1])}
    assert [r.id for r in service.list_requests("lisa.executive", "visible", search=wid)] == [wid]


@pytest.mark.parametrize("dense", [False, True])
def test_permissions_are_the_views_own(service, desk, monkeypatch, dense):
    """For every person and view: a filter only narrows what the view already shows, and both
    ways of running it (matches drive / the view's index drives) give the same rows."""
    texts = ("travel", "t", "travel risk:>=medium", "acme stage:director", "john.doe", "requester:j t")
    wanted = {text: oracle(service, text) for text in texts}
    monkeypatch.setattr(req_sql, "DENSE_MATCHES", 1 if dense else 10**9)
    monkeypatch.setattr(req_sql, "VISIBLE_COVER_MATCHES", 1 if dense else 10**9)
    for user in PEOPLE:
        for view in VIEWS:
            shown = {r.id for r in service.list_requests(user, view, limit=1000)}
            for text in texts:
                expected = shown & wanted[text]
                for sort in ("oldest", "newest", "-title", "risk"):
                    got = [r.id for r in service.list_requests(user, view, search=text, sort=sort, limit=1000)]
                    assert set(got) == expected and len(got) == len(expected), (user, view, text, sort)
                assert service.count_requests(user, view, search=text) == len(expected), (user, view, text)


def _key(r, key):
    return {"created": r.created_at, "title": r.title.lower(), "requester": r.requester, "type": r.workflow_type,
            "id": r.id, "risk": -r.risk_level.rank, "status": ["awaiting_approval", "changes_requested", "approved",
                                                                  "rejected", "withdrawn"].index(r.status.value),
            "stage": (r.current_role is None, r.current_role or "", r.current_stage),
            "value": (not r.headline[0].isdigit(), float(r.headline) if r.headline[0].isdigit() else 0, r.headline),
            }[key]


@pytest.mark.parametrize("spec", [*SORT_KEYS, *(f"-{k}" for k in SORT_KEYS), "oldest", "newest"])
def test_every_sort_key_orders_the_list_and_pages_stay_stable(service, desk, spec):
    order = parse_sort(spec)
    rows = service.list_requests("lisa.executive", "visible", sort=spec, limit=1000)
    primary = [_key(r, order.key) for r in rows] if order.key != "due" else []
    if order.key == "due":  # the default policy has no due dates: all tie, in filing order either way
        other = service.list_requests("lisa.executive", "visible", sort="-due" if spec == "due" else "due", limit=1000)
        assert [r.id for r in rows] == [r.id for r in other]  # (test_due_dates sorts real due dates)
    elif order.key == "value":  # words stay after the numbers whichever the direction
        numbers = [k for k in primary if not k[0]]
        assert all(not k[0] for k in primary[:len(numbers)])
        numbers = [k[1] for k in numbers]
        assert numbers == sorted(numbers, reverse=order.reverse)
    elif order.key == "stage":
        waiting = [k for k in primary if not k[0]]
        assert primary[:len(waiting)] == waiting
        assert [k[1:] for k in waiting] == sorted((k[1:] for k in waiting), reverse=order.reverse)
    else:
        assert primary == sorted(primary, reverse=order.reverse)
    # ties broken by filing order (rowid), so LIMIT/OFFSET pages join up to the whole list exactly
    pages = [r.id for offset in range(0, len(rows), 3)
             for r in service.list_requests("lisa.executive", "visible", sort=spec, limit=3, offset=offset)]
    assert pages == [r.id for r in rows] and len(set(pages)) == len(desk)
    same = service.list_requests("lisa.executive", "visible", search="travel", sort=spec, limit=1000)
    assert [r.id for r in same] == [r.id for r in rows if r.id in {s.id for s in same}]


def test_risk_sort_keeps_its_meaning_highest_first(service, desk):
    ranks = [r.risk_level.rank for r in service.list_requests("lisa.executive", "visible", sort="risk")]
    assert ranks == sorted(ranks, reverse=True) and ranks[0] == RiskLevel.CRITICAL.rank


def test_bad_filters_and_sorts_are_refused_before_the_database(service, desk):
    with pytest.raises(FilterError, match=r"^Bad filter 'risk:hgh': unknown risk level"):
        service.list_requests("lisa.executive", "visible", search="travel risk:hgh")
    with pytest.raises(FilterError, match="no workflow type 'laptop'"):
        service.count_requests("lisa.executive", "visible", search="type:laptop")
    with pytest.raises(FilterError, match="^Unknown sort 'sideways'"):
        service.list_requests("lisa.executive", "visible", sort="sideways")
    with pytest.raises(ValidationFailed, match="search contains a NUL"):
        service.list_requests("lisa.executive", "visible", search="a\x00")
    assert service.parse_filter("risk:high").conditions[0].values == (2,)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.sampled_from(['"', "*", "(", ")", ":", "^", "-", "+", "NEAR", "OR", "AND", "NOT",
                                           "{title}", "travel", "id:", "risk:", " ", "t", "ü"]),
                          st.text(max_size=5)), max_size=10).map("".join))
def test_any_text_runs_or_is_a_filter_error(service, desk, text):
    """No text reaches FTS5 as syntax: every query runs, or the filter is refused in one line."""
    try:
        rows = service.list_requests("lisa.executive", "visible", search=text, limit=5)
        n = service.count_requests("lisa.executive", "visible", search=text)
    except ValidationFailed as exc:  # FilterError, or the NUL/surrogate check of every text input
        assert "\n" not in str(exc)
        return
    assert len(rows) <= min(n, 5)


# --- the index itself ---------------------------------------------------------------------------

def integrity(conn) -> None:
    """FTS5's own check of the index against the requests table (raises if they differ)."""
    conn.execute("INSERT INTO requests_fts(requests_fts, rank) VALUES ('integrity-check', 1)")


def found(svc, text: str) -> set[str]:
    return {r.id for r in svc.list_requests("lisa.executive", "visible", search=text, limit=1000)}


def test_the_index_follows_every_change_in_the_same_transaction(service, desk):
    integrity(service._conn)
    wid = desk[3]  # changes requested: the requester edits the title
    assert wid in found(service, "laptop") and wid not in found(service, "docking")
    service.resubmit(wid, "ian.itadmin", title="Docking station", comments="cheaper")
    assert wid not in found(service, "laptop") and wid in found(service, "docking")
    service.approve_workflow(wid, "sarah.manager")  # a decision leaves the words alone
    assert wid in found(service, "docking station")
    integrity(service._conn)
    # a write transaction that fails after its row was written leaves no word behind either
    with pytest.raises(RuntimeError), service._write() as conn:
        req_sql.insert(conn, {**_row(conn, wid), "id": "WF-1-0001", "title": "Phantom row"})
        assert found_in(conn, "phantom")  # inside the transaction, the index already has it
        raise RuntimeError("the audit append failed")
    assert "WF-1-0001" not in found(service, "phantom") and not found_in(service._conn, "phantom")
    integrity(service._conn)


def _row(conn, wid):
    cur = conn.execute("SELECT * FROM requests WHERE id = ?", (wid,))
    return dict(zip((d[0] for d in cur.description), cur.fetchone()))


def found_in(conn, word: str) -> bool:
    return bool(conn.execute("SELECT rowid FROM requests_fts WHERE requests_fts MATCH ?", (f'"{word}"*',)).fetchall())


def test_migration_5_indexes_a_database_made_before_it(db_path, db_key, service, desk):
    service.close(checkpoint=False)
    conn = raw_connection(db_path, db_key)
    roll_back_schema(conn, 4)  # as shipped before migration 5
    conn.close()
    svc = WorkflowService.open(db_path, key=db_key)
    try:
        assert svc._conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == migrations.LATEST == 21
        assert svc._conn.execute("SELECT count(*) FROM sqlite_master WHERE name IN "
                                 "('approvals_by_approver_request', 'requests_visible_cover', 'requests_by_risk', "
                                 "'requests_awaiting_risk')").fetchone()[0] == 4
        integrity(svc._conn)
        assert found(svc, "travel") == oracle(svc, "travel") and len(found(svc, "travel")) == 4
        wid = svc.create_workflow_request("expense_approval", "Zeppelin tour", "", "john.doe", {"amount": 50})
        assert found(svc, "zepp") == {wid}
    finally:
        svc.close(checkpoint=False)


# --- query plans ----------------------------------------------------------------------------------

def _plans(svc, user, view, text, sort, dense, monkeypatch):
    monkeypatch.setattr(req_sql, "DENSE_MATCHES", 1 if dense else 10**9)
    user_obj, decidable, oversight, _owner = svc._view_args(user)
    flt, now = svc.parse_filter(text), datetime.now(timezone.utc)
    out = []
    for sql, args in (req_sql.page_query(svc._conn, view, user_obj.username, decidable, oversight, flt,
                                         parse_sort(sort), 100, 0, now),
                      req_sql.count_query(svc._conn, view, user_obj.username, decidable, oversight, flt, now)):
        out.append([row[3] for row in svc._conn.execute("EXPLAIN QUERY PLAN " + sql, args)])
    return out


@pytest.mark.parametrize("dense", [False, True])
@pytest.mark.parametrize("text", ["travel", "travel risk:high", "t requester:john", "acme id:WF-", "a b c"])
def test_a_text_term_never_scans_the_requests_table(service, desk, monkeypatch, dense, text):
    for user in ("lisa.executive", "sarah.manager", "john.doe"):
        for view in VIEWS:
            for sort in ("oldest", "newest", "title", "-value"):
                for plan in _plans(service, user, view, text, sort, dense, monkeypatch):
                    scans = [line for line in plan if re.match(r"SCAN r\b(?! USING (COVERING )?INDEX)", line)]
                    assert not scans, (user, view, sort, plan)
                    assert any("requests_fts VIRTUAL TABLE" in line for line in plan), plan


def test_the_first_page_of_many_matches_comes_from_an_index_in_sort_order(service, desk, monkeypatch):
    [page, count] = _plans(service, "lisa.executive", InboxView.VISIBLE, "travel", "oldest", True, monkeypatch)
    assert "SCAN r USING INDEX requests_by_created" in page and not any("TEMP B-TREE FOR ORDER BY" in x for x in page)
    assert count == ["SCAN requests_fts VIRTUAL TABLE INDEX 0:M5"] or any("requests_fts" in x for x in count)
    [page, count] = _plans(service, "mike.director", InboxView.AWAITING_ME, "travel", "oldest", True, monkeypatch)
    assert any("requests_awaiting" in x for x in page)
    assert any("COVERING INDEX requests_awaiting_cover" in x for x in count)
    [page, _] = _plans(service, "lisa.executive", InboxView.VISIBLE, "travel", "oldest", False, monkeypatch)
    assert any("SEARCH r USING INTEGER PRIMARY KEY (rowid=?)" in x for x in page)


async def test_the_async_api_passes_search_and_counts_through(tmp_path):
    import os

    from hitl_tui.core import WorkflowSystem

    async with await WorkflowSystem.open(tmp_path / "a.db", key=os.urandom(32)) as system:
        await system.add_user("john.doe", "employee")
        await system.add_user("sarah.manager", "manager")
        wid = await system.create_workflow_request("expense_approval", "Berlin trip", "", "john.doe", {"amount": 50})
        await system.create_workflow_request("expense_approval", "Paris trip", "", "john.doe", {"amount": 5000})
        assert system.parse_filter("risk:low").conditions[0].values == (0,)
        assert [r.id for r in await system.list_requests("sarah.manager", "awaiting_me", search="berl",
                                                         sort="-value")] == [wid]
        assert await system.count_requests("sarah.manager", "awaiting_me", search="trip risk:<=medium") == 2
        with pytest.raises(FilterError):
            await system.count_requests("sarah.manager", search="risk:purple")


def test_counting_what_a_person_may_see_reads_indexes_only(service, desk, monkeypatch):
    """Migrations 6 and 7: the 'all I may see' count of someone without oversight, and the
    requests they decided, come from covering indexes: no row of requests or approvals is read."""
    user, decidable, oversight, _owner = service._view_args("sarah.manager")
    sql, args = req_sql.count_query(service._conn, InboxView.VISIBLE, user.username, decidable, oversight,
                                    service.parse_filter(None), datetime.now(timezone.utc))
    plan = [row[3] for row in service._conn.execute("EXPLAIN QUERY PLAN " + sql, args)]
    assert "SCAN r USING COVERING INDEX requests_visible_cover" in plan, plan
    assert any("COVERING INDEX approvals_by_approver_request" in line for line in plan), plan


def test_high_risk_and_the_risk_sort_come_from_the_risk_index(service, desk, monkeypatch):
    """Migration 8: `travel risk:high` tests the word against index entries of the high-risk
    requests, and the risk sort reads in index order (no sort of every visible request)."""
    [page, _] = _plans(service, "lisa.executive", InboxView.VISIBLE, "travel risk:>=high", "oldest", True, monkeypatch)
    assert any("INDEX requests_by_risk (risk_rank>?)" in line for line in page), page
    [page, _] = _plans(service, "mike.director", InboxView.AWAITING_ME, "travel risk:high", "oldest", True, monkeypatch)
    assert any("INDEX requests_awaiting_risk" in line for line in page), page
    [page, _] = _plans(service, "lisa.executive", InboxView.VISIBLE, "travel", "risk", True, monkeypatch)
    assert page[0] == "SCAN r USING INDEX requests_by_risk" and not any("ORDER BY" in x for x in page), page
    [page, _] = _plans(service, "lisa.executive", InboxView.VISIBLE, "", "risk", True, monkeypatch)
    assert page == ["SCAN r USING INDEX requests_by_risk"], page
    [page, _] = _plans(service, "lisa.executive", InboxView.VISIBLE, "travel risk:low", "oldest", True, monkeypatch)
    assert page[0] == "SCAN r USING INDEX requests_by_created", page  # the common levels: created order


def test_counting_very_many_matches_in_what_i_may_see_reads_one_index(service, desk, monkeypatch):
    monkeypatch.setattr(req_sql, "VISIBLE_COVER_MATCHES", 2)
    [_, count] = _plans(service, "sarah.manager", InboxView.VISIBLE, "travel", "oldest", True, monkeypatch)
    assert any("COVERING INDEX requests_visible_cover" in line for line in count), count
    assert service.count_requests("sarah.manager", "visible", search="travel") == len(
        {r.id for r in service.list_requests("sarah.manager", "visible", limit=1000)} & oracle(service, "travel"))


def test_count_views_agrees_with_count_requests_and_stops_when_asked(service):
    from hitl_tui.core.models import InboxView

    service.add_user("ann", "employee")
    service.add_user("max", "manager")
    for title in ("Berlin hotel", "Berlin taxi", "Paris hotel"):
        service.create_workflow_request("expense_approval", title, "", "ann", {"amount": "50"})
    for search in (None, "berlin", "hotel risk:low"):
        counts = service.count_views("max", search=search)
        assert counts == {v: service.count_requests("max", v, search=search) for v in InboxView}
    asked = []
    assert service.count_views("max", stop=lambda: asked.append(1) or len(asked) > 2) == {
        InboxView.AWAITING_ME: 3, InboxView.MINE: 0}
