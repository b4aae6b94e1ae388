"""The inbox's filter field: a visible prompt ("/ filter"), the text, and a line under it for a
hint while typing or for why the filter cannot be read.

It decides nothing about what the text means: it tells its parent in typed messages (attributes
down, messages up). `Changed` waits until typing pauses (DEBOUNCE_S), so a fast typist starts one
query, not one per key; `Submitted` (enter) and `Left` (escape) say the rest. The parent shows a
parse error with `show_error()` and takes it away with `clear_error()`.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Static

#: typing must pause this long before the filter is applied (one query per pause, not per key)
DEBOUNCE_S = 0.25
PROMPT = "/ filter"
HINT = "enter applies and returns to the inbox · esc leaves the field (the filter stays) · empty shows all"


class FilterBar(Vertical):
    DEFAULT_CSS = """
    FilterBar {
        height: auto;
        background: $boost;
    }
    FilterBar #filter-row { height: 1; }
    FilterBar #filter-prompt {
        width: auto;
        padding: 0 1;
        text-style: bold;
        color: $accent;
    }
    FilterBar.-typing #filter-prompt { background: $accent; color: $background; }
    FilterBar #filter-input { width: 1fr; border: none; background: $boost; }
    FilterBar #filter-input.-invalid { color: $error; }
    FilterBar #filter-hint { height: 1; padding: 0 1; color: $foreground-muted; display: none; }
    FilterBar.-typing #filter-hint, FilterBar.-error #filter-hint { display: block; }
    FilterBar.-error #filter-hint { color: $error; text-style: bold; }
    """
    BINDINGS = [Binding("escape", "leave", "Leave the filter", show=False, id="filter.leave")]

    class Changed(Message):
        """Typing paused: filter by `text` (already stripped)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Submitted(Message):
        """enter: filter by `text` now and go back to the inbox (a pending Changed is dropped)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Left(Message):
        """escape: leave the field; what was typed has been announced (Changed) first."""

    def __init__(self, value: str = "", *, placeholder: str = "title, id, requester, type, risk…",
                 hint: str = HINT, debounce: float = DEBOUNCE_S, **kwargs) -> None:
        super().__init__(**kwargs)
        self._value, self.placeholder, self.hint, self.debounce = value, placeholder, hint, debounce
        self._timer: Timer | None = None
        self._announced = value.strip()
        self.error = ""

    def compose(self) -> ComposeResult:
        with Horizontal(id="filter-row"):
            yield Static(PROMPT, id="filter-prompt", markup=False)
            yield Input(self._value, id="filter-input", compact=True, placeholder=self.placeholder)
        yield Static(Text(self.hint), id="filter-hint")

    @property
    def input(self) -> Input:
        return self.query_one("#filter-input", Input)

    @property
    def value(self) -> str:
        return self.input.value

    def set_value(self, text: str) -> None:
        """Put `text` in the field (a saved view, a cleared filter) without announcing it."""
        self._cancel()
        with self.input.prevent(Input.Changed):
            self.input.value = text
        self._announced = text.strip()

    def focus(self, scroll_visible: bool = True):  # the bar's focus belongs to its field
        self.input.focus(scroll_visible)
        return self

    # a class, not :focus-within: Textual restyles the children of a node whose class changed,
    # not of one whose pseudo-class did (the hint stayed hidden while typing)
    def on_descendant_focus(self) -> None:
        self.add_class("-typing")

    def on_descendant_blur(self) -> None:
        self.remove_class("-typing")

    # --- errors ----------------------------------------------------------------------------------

    def show_error(self, text: str) -> None:
        """Why the filter cannot be read ("unknown field 'rsik'; try risk:high"), under the field."""
        self.error = text
        self.add_class("-error")
        self.input.add_class("-invalid")
        line = Text("✘ ", style="bold", end="")
        line.append(text)  # a Text: the user's own words in it are never read as markup
        self.query_one("#filter-hint", Static).update(line)

    def clear_error(self) -> None:
        self.error = ""
        self.remove_class("-error")
        self.input.remove_class("-invalid")
        self.query_one("#filter-hint", Static).update(Text(self.hint))

    # --- typing ----------------------------------------------------------------------------------

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _announce(self) -> None:
        self._timer = None
        text = self.value.strip()
        if text != self._announced:
            self._announced = text
            self.post_message(self.Changed(text))

    @on(Input.Changed, "#filter-input")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        self._cancel()
        self._timer = self.set_timer(self.debounce, self._announce)

    @on(Input.Submitted, "#filter-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._cancel()
        self._announced = self.value.strip()
        self.post_message(self.Submitted(self._announced))

    def action_leave(self) -> None:
        if self._timer is not None:
            self._cancel()
            self._announce()
        self.post_message(self.Left())
