"""Registering the session's tools and the three agents on one TFrameXApp.

Each session has its own app: its tools are bound methods of that session's SessionTools, so the
identity travels with the app and can never be supplied by the model.
"""

from __future__ import annotations

from ..core.models import User
from ..core.policy import Policy
from .memory import HISTORY_WINDOW, RecentMemoryStore
from .names import AGENT_TOOLS, APPROVALS, COMPLIANCE, COORDINATOR
from .prompts import system_prompt
from .tfx import TFrameXApp, ToolParameterProperty, ToolParameters
from .tools import SessionTools

MAX_TOOL_ROUNDS = 4

# no concrete id here: small models copy an example id into their calls instead of the one asked about
_WF_ID = "The request's workflow id (WF-, digits, -, four digits), exactly as the user or a tool gave it."


def _params(required: list[str], **props: ToolParameterProperty) -> ToolParameters:
    return ToolParameters(properties=props, required=required)


def _string(description: str, enum: list[str] | None = None) -> ToolParameterProperty:
    return ToolParameterProperty(type="string", description=description, enum=enum)


def register_tools(app: TFrameXApp, tools: SessionTools, policy: Policy) -> None:
    types = sorted(policy.types)
    specs = {
        "get_workflow_status": (
            tools.get_workflow_status,
            "Status, risk, approval chain, decisions and justification of one request the user may see.",
            _params(["workflow_id"], workflow_id=_string(_WF_ID))),
        "get_audit_trail": (
            tools.get_audit_trail,
            "The complete audit trail of one request, oldest entry first.",
            _params(["workflow_id"], workflow_id=_string(_WF_ID))),
        "list_pending_approvals": (
            tools.list_pending_approvals,
            "Requests waiting for a decision by the user (default). Another person's queue only for "
            "oversight roles.",
            _params([], for_user=_string("Username whose queue to list; omit for the user's own."))),
        "list_requests": (
            tools.list_requests,
            "List requests in one inbox view: mine (filed by the user), awaiting_me, visible, decided.",
            _params([], view=_string("Which view.", ["mine", "awaiting_me", "visible", "decided"]),
                    search=_string("Optional words to match in title, id, requester, type."))),
        "list_workflow_types": (
            tools.list_workflow_types,
            "The workflow types, their fields (required ones marked) and their approval chains.",
            _params([])),
        "draft_request": (
            tools.draft_request,
            "Draft a new request for the user to review and submit. Never files anything. Returns the "
            "risk level and approval chain, or the fields still missing.",
            _params(["workflow_type"],
                    workflow_type=_string("The workflow type.", types),
                    title=_string("A short title."),
                    description=_string("The business justification, in the user's words."),
                    fields=ToolParameterProperty(
                        type="object", description="Field values by name, e.g. amount and category for "
                        "expense_approval, impact for infrastructure_change (see list_workflow_types)."))),
        "propose_decision": (
            tools.propose_decision,
            "Propose approve / reject / request_changes on a request awaiting the user. Decides NOTHING: "
            "the user sees the proposal and confirms or dismisses it themselves.",
            _params(["workflow", "decision", "rationale"],
                    workflow=_string("The WF- id, or distinctive words of the title of one of the user's "
                                     "pending approvals."),
                    decision=_string("The proposed decision.", ["approve", "reject", "request_changes"]),
                    rationale=_string("Why, from the request's risk, data and justification."),
                    comments=_string("Comments for the requester, if the user gave any."))),
        "check_compliance": (
            tools.check_compliance,
            "Run the deterministic compliance checks on one request: segregation of duties, missing "
            "justification, split purchases, unusual amount for the category, decisions outside hours.",
            _params(["workflow_id"], workflow_id=_string(_WF_ID))),
    }
    for name, (func, description, schema) in specs.items():
        app.tool(name=name, description=description, parameters_schema=schema)(func)


def register_agents(app: TFrameXApp, memory: RecentMemoryStore, user: User) -> None:
    descriptions = {
        COORDINATOR: "Turns plain-language requests into well-formed drafts; reports status and audit trails.",
        APPROVALS: "Lists what awaits the user, presents risk context, proposes decisions for the user to confirm.",
        COMPLIANCE: "Reviews requests against the deterministic compliance checks and explains the flags.",
    }
    for name, description in descriptions.items():
        async def agent_placeholder() -> None:  # tframex wants a decorated target; the LLMAgent does the work
            return None

        app.agent(
            name=name, description=description, system_prompt=system_prompt(name, user),
            tools=list(AGENT_TOOLS[name]),
            # One memory for the three agents: it is one conversation, whoever answers a turn.
            memory_store=memory, history_limit=HISTORY_WINDOW, max_tool_iterations=MAX_TOOL_ROUNDS,
            strip_think_tags=True,
        )(agent_placeholder)
