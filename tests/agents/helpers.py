"""Helpers shared by the agent tests."""

from __future__ import annotations

from hitl_tui.agents.events import DecisionProposal, DraftRequest, TextDelta, ToolActivity, TurnDone, TurnFailed


def expense(service, amount, title="Executive travel to Singapore", requester="john.doe", *,
            description="Strategic planning with the APAC partners, flights and hotel", category="travel") -> str:
    return service.create_workflow_request("expense_approval", title, description, requester,
                                           {"amount": amount, "category": category})


class Turn:
    """Everything one assistant turn yielded, sorted by kind."""

    def __init__(self, events: list) -> None:
        self.events = events
        self.text = "".join(e.text for e in events if isinstance(e, TextDelta))
        self.deltas = [e for e in events if isinstance(e, TextDelta)]
        self.activity = [e.summary for e in events if isinstance(e, ToolActivity)]
        self.proposals = [e for e in events if isinstance(e, DecisionProposal)]
        self.drafts = [e for e in events if isinstance(e, DraftRequest)]
        self.failures = [e for e in events if isinstance(e, TurnFailed)]
        done = [e for e in events if isinstance(e, TurnDone)]
        assert len(done) == 1 and events[-1] is done[0], "every turn ends with exactly one TurnDone"
        self.agent = done[0].agent


async def turn(assistant, text: str, agent: str | None = None) -> Turn:
    return Turn([event async for event in assistant.ask(text, agent)])
