"""Quorum and parallel stages through the installed `hitl-tui`: a policy applied with them (and
one refused in one line), votes cast with `approve`, and `request show` naming the votes."""

from __future__ import annotations

from tests.cli.conftest import ME, file_request, set_my_role
from tests.core.test_quorum import POLICY


def apply(ready, tmp_path, text: str = POLICY):
    path = tmp_path / "quorum.toml"
    path.write_text(text)
    return ready.ok("policy", "apply", str(path)).stdout


def test_policy_apply_takes_quorum_and_parallel_stages_and_notes_a_quorum_nobody_can_meet(ready, tmp_path):
    three_directors = POLICY.replace('CRITICAL = ["security"', 'CRITICAL = [{ role = "director", quorum = 3 }')
    out = apply(ready, tmp_path, three_directors)
    assert "types added: vendor_payment" in out
    # the directors (mike) and the executive (lisa): two people for three votes; applied all the same
    assert ("Note: vendor_payment CRITICAL stage 1 needs 3 of the 2 active people who may decide Director; until "
            "more are added, such a request cannot be approved.") in out
    assert "quorum = 3" in ready.ok("policy", "show").stdout
    types = ready.ok("request", "types").stdout
    assert "MEDIUM   Manager ×2 -> Director" in types and "HIGH     Security + Compliance -> Director" in types
    listed = ready.json("request", "types", "--json")
    assert listed["vendor_payment"]["stage_rules"]["HIGH"] == [{"all": ["security", "compliance"]}, "director"]
    assert "stage_rules" not in listed["expense_approval"]  # plain chains: as before


def test_a_bad_stage_is_refused_in_one_line_and_changes_nothing(ready, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(POLICY.replace("quorum = 2 }]", "quorum = 0 }]"))
    before = ready.ok("policy", "show").stdout
    ready.refused("policy", "apply", str(path), match="chain LOW stage 1: quorum must be a whole number of at least 1")
    path.write_text(POLICY.replace('{ all = ["security", "compliance"] }', "{ all = [] }"))
    ready.refused("policy", "apply", str(path), match="chain HIGH stage 1: `all` needs a list of one or more roles")
    assert ready.ok("policy", "show").stdout == before


def test_approve_casts_a_vote_and_request_show_counts_them(ready, tmp_path):
    apply(ready, tmp_path)
    wid = file_request(ready, wtype="vendor_payment", data={"amount": "5000"})  # two managers, then a director
    set_my_role(ready, "manager")
    out = ready.ok("approve", wid, "-m", "Invoice checked").stdout
    assert f"Approved {wid}" in out and "now awaiting stage 1 of 2 (Manager: 1 of 2 votes (you))" in out
    ready.refused("approve", wid, match="already voted on stage 1 (Manager)")
    with ready.service() as s:
        s.approve_workflow(wid, "sarah.manager", "Agreed")
    show = ready.ok("request", "show", wid).stdout
    assert "Approval chain: Manager ×2 -> Director" in show
    assert f"1. Manager    2 of 2 votes ({ME}, sarah.manager)" in show
    assert f"approved by {ME} (Manager, for Manager)" in show and '"Invoice checked"' in show
    assert "2. Director   awaiting decision" in show
    ready.ok("verify-audit")


def test_a_parallel_stage_shows_each_role_and_waits_for_the_missing_one(ready, tmp_path):
    apply(ready, tmp_path)
    wid = file_request(ready, wtype="vendor_payment", data={"amount": "20000"})  # security and compliance
    set_my_role(ready, "security")
    assert "(Compliance: Security ✓ you · Compliance waiting)" in ready.ok("approve", wid).stdout
    show = ready.ok("request", "show", wid).stdout
    assert f"1. Security   Security ✓ {ME} · Compliance waiting, awaiting decision" in show
    assert "Approval chain: Security + Compliance -> Director" in show
    set_my_role(ready, "compliance")  # a role only the rest of the stage awaits: in my Awaiting me
    listed = ready.json("request", "list", "--view", "awaiting_me", "--json")
    assert wid not in str(listed)  # I voted already: each person counts once
    with ready.service() as s:
        assert [r.id for r in s.list_requests("carol.compliance", "awaiting_me")] == [wid]
        s.approve_workflow(wid, "carol.compliance")
    assert "stage 2 of 2 (Director)" in ready.ok("request", "show", wid).stdout
    ready.ok("verify-audit")


def test_the_standalone_verifier_replays_votes_and_catches_one_struck_from_the_tables(ready, tmp_path):
    """The audit bundle's state.json has a row per voter of a quorum stage; the standalone
    verifier (no hitl_tui) rebuilds them, the stage rules and the roles still awaited."""
    import json

    from tests.verifier.conftest import verify

    apply(ready, tmp_path)
    quorum = file_request(ready, wtype="vendor_payment", data={"amount": "5000"})
    parallel = file_request(ready, wtype="vendor_payment", data={"amount": "20000"})
    with ready.service() as s:
        s.add_user("tom.manager", "manager", actor=ME)
        s.approve_workflow(quorum, "sarah.manager", "one")
        s.approve_workflow(quorum, "tom.manager", "two")
        s.approve_workflow(parallel, "carol.compliance", "compliance first")
    bundle = tmp_path / "bundle"
    ready.ok("export-audit", "--bundle", str(bundle))
    vkey = (bundle / "checkpoint.vkey").read_text().strip()
    result = verify(bundle, "--vkey", vkey, verifier=bundle / "hitl_verify.py")
    assert result.code == 0 and result.line("state").startswith("ok"), result.out
    state = json.loads((bundle / "state.json").read_text())
    row = next(r for r in state["requests"] if r["id"] == parallel)
    assert (row["current_role"], row["awaited"]) == ("security", ",security,")
    state["approvals"] = [a for a in state["approvals"] if a["approver"] != "tom.manager"]
    (bundle / "state.json").write_text(json.dumps(state))
    result = verify(bundle, "--vkey", vkey, verifier=bundle / "hitl_verify.py")
    assert result.code != 0 and f"{quorum}'s decision of stage 1 (revision 1) is in the trail but missing from the " \
                                 f"table" in result.line("state"), result.out


def test_verify_audit_exits_3_on_a_quorum_stage_advanced_in_the_tables(ready, tmp_path):
    """The insider with the key moves a quorum stage on after one of its two votes: the tables no
    longer replay from the trail, and the installed `verify-audit` says where, exit 3."""
    apply(ready, tmp_path)
    wid = file_request(ready, wtype="vendor_payment", data={"amount": "5000"})
    with ready.service() as s:
        s.approve_workflow(wid, "sarah.manager", "one of two")
    ready.ok("verify-audit")
    conn = ready.raw()
    conn.execute("UPDATE requests SET current_stage = 1, current_role = 'director' WHERE id = ?", (wid,))
    conn.close()
    run = ready("verify-audit")
    assert run.exit_code == 3, run.output
    assert (f"{wid} is awaiting Director (stage 2 of 2) in the table, awaiting Manager (stage 1 of 2) in the trail"
            in run.stdout.splitlines()[0]), run.stdout
