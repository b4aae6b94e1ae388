"""Demo only: pick who to act as. The real app always acts as the OS login; this dialog is
opened only by the demo's `u` key (hitl_tui/demo/app.py), never by the desk itself."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ..core.models import User
from ..render.text import clean


class UserPicker(ModalScreen[str | None]):
    DEFAULT_CSS = """
    #picker-dialog { width: 78; }
    #picker-intro { margin-bottom: 1; }
    #picker-list { height: auto; max-height: 12; border: none; padding: 0; background: $surface; }
    #picker-list:focus { border: none; }
    #picker-keys { color: $foreground-muted; margin-top: 1; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="picker.cancel"),
        *[Binding(str(i), f"pick({i - 1})", f"Person {i}", show=False, id=f"picker.pick{i}") for i in range(1, 10)],
    ]

    def __init__(self, people: list[User], current: str, hints: dict[str, str] | None = None) -> None:
        """`hints`: a few words per username, in the order the people are to be listed (anyone
        not in it comes after, by name)."""
        super().__init__(classes="dialog-screen")
        self.hints = hints or {}
        order = {name: i for i, name in enumerate(self.hints)}
        # integrations file through the API and never sit at a desk, so nobody acts as one
        self.people = sorted((p for p in people if p.active and not p.integration), key=lambda p: (order.get(p.username, len(order)),
                                                                              p.username))
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-dialog", classes="dialog") as box:
            box.border_title = "Act as…"
            box.border_subtitle = "demo only"
            yield Static(Text("Who are you now? Each person sees and may do what their role allows.",
                              style="dim"), id="picker-intro")
            yield OptionList(*[Option(self._label(i, p), id=p.username) for i, p in enumerate(self.people)],
                             id="picker-list")
            yield Static(Text.assemble(("↑↓", "bold"), " move  ", ("enter", "bold"), " act as  ",
                                       ("1-9", "bold"), " pick  ", ("esc", "bold"), " cancel"), id="picker-keys")

    def _label(self, index: int, person: User) -> Text:
        line = Text(no_wrap=True, overflow="ellipsis", end="")
        line.append(f"{index + 1} ", style="dim")
        line.append(f"{clean(person.username, single_line=True):<17}", style="bold")
        line.append(f"{person.role.label:<11}")
        if person.username == self.current:
            line.append("(you) ", style="bold green")
        line.append(clean(self.hints.get(person.username, ""), single_line=True), style="dim")
        return line

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        here = next((i for i, p in enumerate(self.people) if p.username == self.current), 0)
        options.highlighted = here
        options.focus()

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_pick(self, index: int) -> None:
        if 0 <= index < len(self.people):
            self.dismiss(self.people[index].username)

    def action_cancel(self) -> None:
        self.dismiss(None)
