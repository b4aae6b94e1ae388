"""The inbox's order and filter: which column it is sorted by, and the filter typed in its bar.

A collaborator of the desk screen (screens/desk.py), which keeps the state (`sort`, `search`)
and the key and message handlers; this says what each key or click means for them, checks a
filter in core's language before it reaches a query, and sets the bars that show them
(attributes down). Nothing here touches the database: the screen's new query does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.errors import HitlError
from ..core.filter_query import SORT_KEYS, parse_sort

if TYPE_CHECKING:
    from .desk import DeskScreen


class DeskOrder:
    def __init__(self, desk: "DeskScreen") -> None:
        self.desk = desk

    # --- sort ----------------------------------------------------------------------------------

    def cycle(self) -> None:
        """The next column to sort by, each in its natural order (oldest, highest risk, A to Z...)."""
        keys = list(SORT_KEYS)
        current = parse_sort(self.desk.sort).key
        self.sort_by(keys[(keys.index(current) + 1) % len(keys)])

    def reverse(self) -> None:
        order = parse_sort(self.desk.sort)
        self.sort_by(("" if order.reverse else "-") + order.key)

    def header_clicked(self, key: str) -> None:
        """A click on the sorted column's header reverses it, on another column sorts by it."""
        order = parse_sort(self.desk.sort)
        self.sort_by(("" if order.reverse else "-") + order.key if order.key == key else key)

    def sort_by(self, spec: str) -> None:
        desk = self.desk
        desk.sort = parse_sort(spec).spec
        desk.view_bar.sort = desk.sort
        desk.app.say(f"Sorted by {parse_sort(desk.sort).label.lower()}.", timeout=3)
        desk.new_query()

    # --- filter --------------------------------------------------------------------------------

    def apply_filter(self, text: str, *, again: bool = False) -> bool:
        """Check the filter (core's language) here, where the error can be shown under the field
        at once, instead of in a failed query; False when it cannot be read."""
        desk, bar = self.desk, self.desk.filter_bar
        text = text.strip()
        try:
            desk.service.parse_filter(text)  # no database call: safe on every pause in typing
        except HitlError as exc:
            bar.show_error(str(exc))
            return False
        bar.clear_error()
        if text == desk.search and not again:
            return True
        desk.search = text
        desk.view_bar.search = text
        desk.new_query()
        desk.count_later()
        return True

    def leave_filter(self) -> None:
        bar = self.desk.filter_bar
        bar.display = bool(bar.error)  # a filter that cannot be read stays in view with its reason
        self.desk.inbox.focus()
