"""The desk's keys: what each does (the bindings, with ids a keymap can move), which of them the
selected request allows, in whose words a refused key is explained, and the command palette's
list of the same actions. Pure rules over core.rbac; the screen asks, this module answers."""

from __future__ import annotations

from collections.abc import Sequence

from textual.binding import Binding

from ..core import rbac
from ..core.delegation import Covering
from ..core.decisions import TERMS
from ..core.errors import HitlError
from ..core.models import InboxView, User, WorkflowRequest
from ..core.policy import Policy
from ..core.workflow import Action
from ..widgets.view_bar import LABELS

#: the decision keys' action names (a Decision's value) -> the workflow action it needs rbac to allow
DECISION_ACTIONS = {d.value: t.action for d, t in TERMS.items()}
#: the actions whose state depends on the selected request
REQUEST_KEYS = (*DECISION_ACTIONS, "withdraw", "resubmit")

DESK_BINDINGS = [
    Binding("a", "approve", "Approve", id="desk.approve", tooltip="Approve the selected request's current stage"),
    Binding("r", "reject", "Reject", id="desk.reject", tooltip="Reject the selected request (reason required)"),
    Binding("c", "request_changes", "Changes", id="desk.changes",
            tooltip="Send it back to the requester for changes (comment required)"),
    Binding("n", "new_request", "New", id="desk.new", tooltip="File a new request (form with live risk preview)"),
    Binding("e", "resubmit", "Edit", id="desk.resubmit",
            tooltip="Edit and resubmit your request after changes were requested"),
    Binding("w", "withdraw", "Withdraw", id="desk.withdraw", tooltip="Withdraw your request (asks first)"),
    Binding("m", "claim", "Claim", show=False, id="desk.claim",
            tooltip="Claim the selected request (\"I am looking at this\", shown to your role) or release your claim"),
    Binding("slash", "filter", "Filter", id="desk.filter",
            tooltip="Filter as you type: words, or risk:high type:expense requester:NAME age:>2d …; esc leaves the field"),
    Binding("v", "next_lower", "Pane", id="desk.lower",
            tooltip="Narrow terminals: show detail → audit timeline → assistant in the lower half"),
    Binding("1", "view('awaiting_me')", "Awaiting me", show=False, id="desk.view1",
            tooltip="Requests whose current stage you may decide"),
    Binding("2", "view('mine')", "My requests", show=False, id="desk.view2", tooltip="Requests you filed"),
    Binding("3", "view('visible')", "All I may see", show=False, id="desk.view3",
            tooltip="Everything your role lets you see"),
    Binding("4", "view('decided')", "Decided", show=False, id="desk.view4",
            tooltip="Requests you decided a stage of"),
    Binding("5", "analytics", "Analytics", show=False, id="desk.view5",
            tooltip="Analytics: decision times, rates, bottlenecks, SLA breaches, workload, risk by week"),
    Binding("s", "cycle_sort", "Sort", show=False, id="desk.sort",
            tooltip="Sort by the next column: created, risk, title, requester, type, id, value, stage, status "
                    "(a click on a column's header too)"),
    Binding("S", "reverse_sort", "Reverse sort", show=False, id="desk.reverse_sort",
            tooltip="Reverse the sort order (newest first, lowest risk first, Z to A…)"),
    Binding("tab", "next_pane", "Next pane", show=False, id="desk.next_pane",
            tooltip="Inbox → detail → timeline → assistant"),
    Binding("shift+tab", "previous_pane", "Previous pane", show=False, id="desk.previous_pane"),
    Binding("enter", "open_detail", "Open detail", show=False, id="desk.open",
            tooltip="Show the selected request's detail"),
    Binding("escape", "back", "Back", show=False, id="desk.back",
            tooltip="Leave the filter / go back to the inbox / clear the filter"),
    Binding("ctrl+r,f5", "reload", "Reload", show=False, id="desk.reload",
            tooltip="Reload now (changes by others also appear by themselves within a second)"),
    Binding("y", "copy_id", "Copy id", show=False, id="desk.copy_id",
            tooltip="Copy the selected request's id to the clipboard (OSC 52: works over SSH)"),
    Binding("Y", "copy_link", "Copy link", show=False, id="desk.copy_link",
            tooltip="Copy a line naming the request, its risk and stage, and the command that shows it"),
    Binding("o", "page_description", "Pager", show=False, id="desk.pager",
            tooltip="Read the selected request's description in $PAGER (less -R by default)"),
    Binding("O", "page_detail", "Detail in pager", show=False, id="desk.pager_detail",
            tooltip="The whole detail pane as plain text in $PAGER"),
    Binding("ctrl+e", "export", "Export", show=False, id="desk.export",
            tooltip="Export the audit log (jsonl, csv, html, md) with a progress bar"),
]

#: (title, action) for the command palette; its "key:" hint is read from the bindings in force
PALETTE = (
    ("Approve the selected request", "approve"), ("Reject the selected request", "reject"),
    ("Request changes on the selected request", "request_changes"), ("New request", "new_request"),
    ("Edit and resubmit my request", "resubmit"), ("Withdraw my request", "withdraw"),
    ("Filter the inbox", "filter"), ("Sort by the next column", "cycle_sort"),
    ("Reverse the sort order", "reverse_sort"), ("Reload now", "reload"),
    ("Verify the audit chain again", "verify"), ("Export the audit log…", "export"),
    ("Copy the request id", "copy_id"), ("Copy a link line for the request", "copy_link"),
    ("Read the description in the pager", "page_description"),
    ("Read the whole detail in the pager", "page_detail"),
    ("Show the detail pane", "show_lower('detail')"), ("Show the audit timeline", "show_lower('timeline')"),
    ("Ask the assistant", "show_lower('chat')"), ("View: Analytics", "analytics"),
    ("Claim the selected request, or release my claim", "claim"),
)


def palette_entries() -> list[tuple[str, str]]:
    return [*PALETTE, *((f"View: {LABELS[v][0]}", f"view('{v.value}')") for v in InboxView)]


def key_state(action: str, policy: Policy, user: User, req: WorkflowRequest | None,
              covering: Sequence[Covering] = ()) -> bool | None:
    """Textual's check_action answer for `action` with `req` selected (None: none, or still
    loading): True usable, None greyed out (pressing it says why), False not shown at all."""
    if action in DECISION_ACTIONS:
        if req is not None and req.requester == user.username:
            return False  # never yours to decide (segregation of duties): it leaves the footer,
            # which keeps e/w in view at 80 columns; pressing the key still says why
        return True if req is not None and rbac.may_decide(policy, user, req, covering) else None  # or delegated
    if action in ("withdraw", "resubmit"):
        if req is None or req.requester != user.username:
            return False  # not yours: the key does not apply here, so it leaves the footer
        ok = rbac.may_withdraw(user, req) if action == "withdraw" else rbac.may_resubmit(user, req)
        return True if ok else None
    if action == "new_request":
        return True if user.active else None
    return True


def refusal(action: str, policy: Policy, user: User, req: WorkflowRequest,
            covering: Sequence[Covering] = ()) -> str | None:
    """The engine's own words for why `action` is refused on `req` (None: it is not)."""
    try:
        if action in DECISION_ACTIONS:
            rbac.check_decide(policy, user, req, DECISION_ACTIONS[action], covering)
        elif action == "withdraw":
            rbac.check_requester_action(user, req, Action.WITHDRAW)
        elif action == "resubmit":
            rbac.check_requester_action(user, req, Action.RESUBMIT)
            if not rbac.may_resubmit(user, req):
                return f"{req.id} is {req.status.label}; you can edit and resubmit only after changes were requested."
    except HitlError as exc:  # its message is the explanation
        return str(exc)
    return None
