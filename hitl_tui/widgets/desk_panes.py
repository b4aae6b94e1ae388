"""The desk's four panes and which of them is shown where.

Wide (the screen's -wide class, from 140 columns): all four in a grid. Narrow: the inbox on top
and ONE of detail / timeline / chat below, chosen with `show_lower`. The inbox is composed first
and painted alone; the other three are mounted right after the first frame (`mount_lower`), so
the first paint waits for neither their imports nor their layout.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

from rich.text import Text
from textual.containers import Grid
from textual.message import Message

from ..core.policy import Policy
from .agent_chat import AgentChat

if TYPE_CHECKING:
    from ..core.service import WorkflowService

LOWER = ("detail", "timeline", "chat")
PANES = ("inbox", *LOWER)
LOWER_TITLES = {"detail": "Detail", "timeline": "Audit timeline", "chat": "Assistant"}


class DeskPanes(Grid):
    class LowerMounted(Message):
        """Detail, timeline and chat are in the DOM now: give them what they should show."""

    def __init__(self, policy: Policy, clock: Callable[[], datetime], service: "WorkflowService", username: str, *,
                 chat_factory: Callable[[Any, str], Any] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.policy, self.clock, self.service, self.username = policy, clock, service, username
        self.chat_factory = chat_factory
        self.lower = "detail"
        self.mounted_lower = False
        self._chain: tuple[Text, int | None] | None = None

    def on_mount(self) -> None:
        self.set_class(True, "-lower-detail")

    def mount_lower(self) -> None:
        if self.mounted_lower or self.query(".lower") or not self.is_attached:
            return  # done already, or the desk is being taken down (a quit during start-up)
        from .audit_timeline import AuditTimeline
        from .request_detail import RequestDetail

        self.mount(RequestDetail(self.policy, self.clock, id="detail", classes="pane lower"),
                   AuditTimeline(id="timeline", classes="pane lower"),
                   AgentChat(self.service, self.username, self.chat_factory, id="chat", classes="pane lower"))
        self.call_after_refresh(self._lower_ready)

    def _lower_ready(self) -> None:
        self.mounted_lower = True
        if self._chain is not None:
            self.timeline.set_chain_state(*self._chain)
        self.post_message(self.LowerMounted())

    @property
    def detail(self):
        return self.query_one("#detail")

    @property
    def timeline(self):
        return self.query_one("#timeline")

    @property
    def chat(self) -> AgentChat | None:
        found = self.query("#chat")
        return found.first() if found else None

    def chain_state(self, text: Text, first_bad_seq: int | None = None) -> None:
        self._chain = (text, first_bad_seq)
        if self.mounted_lower:
            self.timeline.set_chain_state(text, first_bad_seq)

    def show_lower(self, name: str, *, wide: bool) -> None:
        self.lower = name
        for other in LOWER:
            self.set_class(other == name, f"-lower-{other}")
        self.title(wide=wide)

    def title(self, *, wide: bool) -> None:
        if not self.mounted_lower and not self.query(".lower"):
            return
        if wide:
            for name in LOWER:
                self.query_one(f"#{name}").border_title = LOWER_TITLES[name]
            self.query_one("#timeline").border_subtitle = ""
            return
        pane = self.query_one(f"#{self.lower}")
        pane.border_title = " ".join(f"[reverse] {LOWER_TITLES[n]} [/]" if n == self.lower else f" {LOWER_TITLES[n]} "
                                     for n in LOWER)
        pane.border_subtitle = "v switches"
