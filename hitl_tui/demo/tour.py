"""The guided tour's script and progress: the steps (what to look at, what to press, how the tour
knows it happened) and what has been observed so far. No widgets here: the panel
(widgets/tour_panel.py) shows this, the demo app (demo/app.py) feeds it observations, and the
autopilot (demo/autopilot.py) does a step when asked.

A step is done when its fact has been observed, whenever that happened: a newcomer who explores
ahead (approves the travel before the tour asks) finds that step already ticked. Facts come from
what the desk itself reports (a request it showed, a decision it recorded, a verification it
ran, a refusal it said) so the tour notices exactly what the person saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.models import Decision

#: the tamper simulation rewrites the Singapore travel's creation entry to say it was LOW risk
#: (the audit timeline shows that field, so the forged value is there to see, marked UNVERIFIED)
TAMPER_OLD, TAMPER_NEW = b'"risk_level":"HIGH"', b'"risk_level":"LOW"'
START_AS = "sarah.manager"
#: the user picker's order (the seed's hierarchy) and what each person is for in the demo
PEOPLE = {
    "john.doe": "files requests: the travel, the migration",
    "sarah.manager": "3 pending approvals (scenario 3)",
    "mike.director": "second stages; billing-bot's refund waits for him",
    "lisa.executive": "final stages; oversight: sees everything",
    "carol.compliance": "oversight: sees everything, may export",
    "sam.security": "the Security stage of infrastructure",
    "ian.itadmin": "IT Admin stage; the directory's admin",
}


@dataclass(frozen=True)
class Cast:
    """The requests the tour talks about, read from the demo database once at start."""

    singapore: str
    singapore_title: str
    singapore_rule: str
    singapore_chain: str
    migration: str
    migration_title: str
    migration_rule: str
    migration_chain: str
    summit: str
    summit_title: str
    pending: tuple[str, ...]  # sarah.manager's pending approvals, as the seed lists them
    tamper_seq: int

    @classmethod
    def read(cls, session) -> "Cast":
        svc, ids = session.service, session.dataset.ids

        def chain(req) -> str:
            return " → ".join(r.label for r in req.required_approvers)

        travel, migration, summit = (svc.get_workflow(ids[k]) for k in ("singapore_travel", "db_migration",
                                                                        "partner_summit"))
        pending = tuple(_label(s) for s in svc.list_requests(START_AS, "awaiting_me"))
        created = next(e for e in svc.get_audit_trail(travel.id) if e.action == "created")
        return cls(travel.id, travel.title, travel.risk_reason, chain(travel), migration.id, migration.title,
                   migration.risk_reason, chain(migration), summit.id, summit.title, pending, created.seq)


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    body: str
    #: what to press, as an instruction (the panel adds "press u, pick X" when needed)
    todo: str
    #: what `d` does for this step, in a few words
    autopilot: str
    #: who the step is played as (None: anyone)
    acting: str | None = None
    #: a second paragraph, shown where there is room (wide terminals)
    more: str = ""


def _label(summary) -> str:
    """'Software License ($8K)': the title's lead (before a colon, else its first two words), as
    the seed names sarah.manager's three approvals."""
    title = summary.title
    lead = title.split(":")[0] if ":" in title else " ".join(title.split()[:2])
    try:
        amount = f" (${float(summary.headline) / 1000:,.0f}K)"
    except (TypeError, ValueError):
        amount = ""
    return lead + amount


def short(title: str, limit: int = 34) -> str:
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


def script(c: Cast) -> list[Step]:
    sg, mg, sm = f"“{short(c.singapore_title)}”", f"“{short(c.migration_title)}”", f"“{short(c.summit_title)}”"
    return [
        Step("welcome", "Welcome to the hitl-tui demo",
             "A throwaway encrypted database with seven people and a few dozen requests; it is deleted when you "
             "quit. You can act as anyone: u switches the acting user.",
             "Press ] to start the tour.", "starts the tour",
             more="Everything here is the real engine: the same rules, audit trail and signed checkpoints as "
                  "hitl-tui on your own database. t hides this panel and brings it back; d does a step for you."),
        Step("singapore", "HIGH risk: $15,000 travel to Singapore",
             f"john.doe asked for $15,000 of executive travel. The expense rule ({c.singapore_rule}) makes it "
             f"HIGH, so its chain is {c.singapore_chain}: the detail's Risk and Chain lines say so.",
             f"Select {sg}; v shows its audit timeline, where the rule was recorded.",
             "shows its timeline", acting=START_AS,
             more="Risk is assessed by the policy when a request is filed, never by the requester: the amount "
                  "decides the level and the level decides the chain. The audit entry keeps both."),
        Step("migration", "A high-impact infrastructure change",
             f"Changes are rated by their impact ({c.migration_rule}) → HIGH, so the chain is "
             f"{c.migration_chain}. A manager never even sees it: it waits for the IT Admin.",
             f"Select {mg}.", "switches user and selects it", acting="ian.itadmin",
             more="What you may see follows from your role: your own requests, those you decided, and those "
                  "whose chain has a stage your role may decide. Executives and compliance see everything."),
        Step("assistant", "Ask the assistant",
             "Agents look things up and propose, but never decide. With no model configured, the built-in "
             "offline assistant answers, without any network.",
             "Open the Assistant pane (v, or tab), type: Show me pending approvals for sarah.manager ⏎",
             "asks it for you", acting=START_AS,
             more="It also understands “check the status of workflow WF-…”, “show me the complete audit trail "
                  "for workflow WF-…” and “approve the executive travel workflow” (a proposal you confirm)."),
        Step("approve", "Approve: the chain moves on",
             f"sarah.manager has {len(c.pending)} pending approvals: " + ", ".join(c.pending)
             + ". Approve the travel: her stage is done and it moves on to the Director.",
             f"Select {sg}, press a, add a comment, ⏎.", "opens the dialog (⏎ is still yours)", acting=START_AS,
             more="The decision and the audit entry are written in one transaction. The dialog names who comes "
                  "next; an agent's proposal opens this same dialog, marked as the agent's words."),
        Step("director", "Now it waits for the director",
             "The chain reads ✔ Manager sarah.manager ▶ Director. mike.director finds it in Awaiting me; the "
             "Executive stage comes after him.",
             f"Select {sg} and read its Chain line.", "switches user and selects it", acting="mike.director",
             more="A director may also decide manager stages, but never two stages of the same request."),
        Step("sod", "Nobody approves their own request",
             f"mike.director filed {sm} himself. Its Manager stage is done and it waits for a Director. He is "
             "one, but he asked for it: segregation of duties.",
             f"Press 2 (My requests), select {sm}, press a.", "tries it for you", acting="mike.director",
             more="The key is greyed out because the engine would refuse; pressing it says why. The engine "
                  "checks every rule itself: the greyed key is a courtesy, not the control."),
        Step("tamper", "Tampering is caught",
             f"A simulation on this demo database only: an insider with the key edits audit entry "
             f"{c.tamper_seq} directly, so the travel's record reads LOW risk instead of HIGH. The hash "
             f"chain no longer matches.",
             "Press d to tamper; the chain is verified again and the header turns red.", "tampers with entry "
             f"{c.tamper_seq}",
             more="The tour opens a second SQLCipher connection with the demo key, drops the append-only "
                  "trigger and rewrites the entry, as someone going around hitl-tui would."),
        Step("export", "The auditor's report",
             "Auditors get a report that carries its own integrity evidence; exporting needs an oversight role "
             "or admin rights. A broken chain is exported anyway, with a warning at the top.",
             "Press d to export the audit log as an HTML report.", "exports (as carol.compliance if needed)",
             more="It is written in the demo's folder, which is deleted when you quit: press K to keep a copy "
                  "where you choose (over SSH, the dialog gives the scp line that fetches it). The same as "
                  "`hitl-tui export-audit --format html -o report.html` on your own database."),
        Step("done", "Your turn",
             "This was the real engine, rules and audit trail, as on your own database. Explore as anyone "
             "(u); ? lists every key; q quits and deletes the demo.",
             "Explore: 1-4 views, / filter, n new request, a/r/c decide.", "restores the tampered entry",
             more="From the shell: `hitl-tui init` creates your own encrypted database; "
                  "`hitl-tui --help` lists the operator commands."),
    ]


@dataclass
class Facts:
    """What the person (or the autopilot) has done and seen so far."""

    #: (workflow id, acting user, current stage role or None) of every request the desk showed
    seen: set[tuple[str, str, str | None]] = field(default_factory=set)
    #: (workflow id, decision, current stage role after it) of every decision recorded
    decided: set[tuple[str, str, str | None]] = field(default_factory=set)
    #: requests whose audit timeline was on screen
    timelines: set[str] = field(default_factory=set)
    chat_answered: bool = False
    refusals: list[str] = field(default_factory=list)
    #: the latest verification result any desk reported (VerifyResult)
    chain: Any = None
    tampering: Any = None  # tamper.Tampering
    restored: bool = False
    export: Any = None  # report.ExportSummary
    export_error: str = ""


class Tour:
    """The steps, where the person is, and what has been observed."""

    def __init__(self, cast: Cast) -> None:
        self.cast = cast
        self.steps = script(cast)
        self.index = 0
        self.hidden = False
        self.facts = Facts()
        self.completed: set[str] = set()
        self._note = ""
        self._note_when_done = False

    @property
    def step(self) -> Step:
        return self.steps[self.index]

    @property
    def note(self) -> str:
        """The autopilot's last word on the current step (what it did, what is left to you, or
        why it could not). A note written before the step was done is stale once it is."""
        return self._note if self.done() == self._note_when_done else ""

    @note.setter
    def note(self, text: str) -> None:
        self._note, self._note_when_done = text, self.done()

    def go(self, delta: int) -> bool:
        target = max(0, min(len(self.steps) - 1, self.index + delta))
        moved = target != self.index
        self.index = target
        if moved:
            self.note = ""
        return moved

    def done(self, key: str | None = None) -> bool:
        """Has the step's fact been observed, now or earlier? (Once ticked, a step stays ticked:
        restoring the tampered entry does not undo having seen the chain break.)"""
        key = key or self.step.key
        if key in self.completed:
            return True
        if self._observed(key):
            self.completed.add(key)
            return True
        return False

    def _observed(self, key: str) -> bool:
        f, c = self.facts, self.cast
        if key == "singapore":
            return c.singapore in f.timelines
        if key == "migration":
            return any(wid == c.migration for wid, _, _ in f.seen)
        if key == "assistant":
            return f.chat_answered
        if key == "approve":
            return self.travel_at_director()
        if key == "director":
            return (c.singapore, "mike.director", "director") in f.seen
        if key == "sod":
            return any("segregation of duties" in r for r in f.refusals)
        if key == "tamper":
            return f.tampering is not None and f.chain is not None and not f.chain.ok
        if key == "export":
            return f.export is not None
        return True  # welcome, done: nothing to do

    def travel_at_director(self) -> bool:
        f, wid = self.facts, self.cast.singapore
        return ((wid, Decision.APPROVE.value, "director") in f.decided
                or any(w == wid and role in ("director", "executive") for w, _, role in f.seen))

    def progress(self) -> tuple[int, int]:
        """(steps done, steps with something to do)."""
        doable = [s.key for s in self.steps if s.key not in ("welcome", "done")]
        return sum(1 for k in doable if self.done(k)), len(doable)
