"""Who hears "waiting for you" at quorum and parallel stages (issue 14): an `all` stage tells
the people of every role it awaits, not only the first; a vote that leaves its stage open tells
nobody (the other voters were told when the stage opened, the voter knows); the vote that
completes a stage tells the next stage's people, never the stage's own voters. Real encrypted
databases, the quorum policy applied by the administrator."""

from __future__ import annotations

import pytest

from hitl_tui.core.policy_store import compose_text
from tests.cli.conftest import ME
from tests.core.test_quorum import POLICY, write_policy


@pytest.fixture
def desk(ready, tmp_path):
    """The seed's cast, the quorum policy, and everyone who decides anything listening."""
    with ready.service() as s:
        text, source = compose_text(write_policy(tmp_path, POLICY))
        s.apply_policy(text, source=source, actor=ME)
    for name in ("sarah.manager", "mike.director", "lisa.executive", "carol.compliance", "sam.security"):
        ready.ok("notify", "prefs", name)
    return ready


def _told(s, wid: str) -> list[tuple[str, str, str]]:
    """(the entry's action, the event, the recipient), in the order the entries were written."""
    rows = s._conn.execute("SELECT seq, event, recipient FROM notify_outbox WHERE workflow_id = ? "
                           "ORDER BY seq, recipient", (wid,)).fetchall()
    actions = {e.seq: e.action for e in s.iter_audit() if e.workflow_id == wid}
    return [(actions[seq], event, who) for seq, event, who in rows]


def _file(s, amount: str) -> str:
    return s.create_workflow_request("vendor_payment", "Pay ACME", "", "john.doe", {"amount": amount})


def test_an_all_stage_tells_every_role_it_awaits(desk):
    with desk.service() as s:
        wid = _file(s, "20000")  # HIGH: { all = [security, compliance] }, then director
        told = _told(s, wid)
    assert told == [("created", "waiting_for_you", "carol.compliance"),
                    ("created", "waiting_for_you", "sam.security")]


def test_a_vote_at_an_all_stage_tells_nobody_and_the_last_one_tells_the_next_stage(desk):
    with desk.service() as s:
        wid = _file(s, "20000")
        s.approve_workflow(wid, "sam.security", "checked the vendor")
        after_vote = _told(s, wid)
        s.approve_workflow(wid, "carol.compliance", "contract is fine")
        after_stage = _told(s, wid)
    assert [t for t in after_vote if t[0] != "created"] == []  # carol was told at filing; sam voted
    moved = [t for t in after_stage if t[0] == "approved"]
    # the director stage: its people, and never the two who voted on the stage before
    assert moved == [("approved", "waiting_for_you", "lisa.executive"),
                     ("approved", "waiting_for_you", "mike.director")]


def test_a_quorum_vote_tells_nobody_new_and_the_voter_never(desk):
    with desk.service() as s:
        wid = _file(s, "500")  # LOW: two of the people who may decide a manager stage
        s.approve_workflow(wid, "sarah.manager", "ok")
        told = _told(s, wid)
    assert {who for action, _, who in told if action == "created"} == {"sarah.manager", "mike.director",
                                                                      "lisa.executive"}
    assert [t for t in told if t[0] != "created"] == []

