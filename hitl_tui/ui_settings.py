"""The [ui] settings that only the Textual side can check and apply: the theme (Textual's names),
the keymap (the binding ids of our screens and widgets), saved views' sort columns.

core.settings reads and types them; this module knows the names core must not import.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

#: every module whose classes declare BINDINGS a keymap may override
_BINDING_MODULES = (
    "hitl_tui.app", "hitl_tui.screens.desk", "hitl_tui.screens.desk_keys", "hitl_tui.screens.decision_modal", "hitl_tui.screens.request_form",
    "hitl_tui.screens.confirm_modal", "hitl_tui.screens.help", "hitl_tui.screens.unlock",
    "hitl_tui.screens.unknown_user", "hitl_tui.screens.user_picker", "hitl_tui.screens.export_dialog",
    "hitl_tui.widgets.request_list", "hitl_tui.widgets.request_detail", "hitl_tui.widgets.audit_timeline",
    "hitl_tui.widgets.filter_bar", "hitl_tui.demo.app",
)


def binding_ids() -> set[str]:
    """Every binding id a keymap may name (imported only when a keymap is set)."""
    from textual.binding import Binding

    ids: set[str] = set()
    for name in _BINDING_MODULES:
        try:
            module = import_module(name)
        except ImportError:  # a module not in this build: its keys cannot be overridden either
            continue
        for obj in vars(module).values():
            bindings = list(getattr(obj, "BINDINGS", None) or []) if isinstance(obj, type) else []
            bindings += [obj] if isinstance(obj, Binding) else []
            if isinstance(obj, list):
                bindings += [b for b in obj if isinstance(b, Binding)]
            ids.update(b.id for b in bindings if isinstance(b, Binding) and b.id)
    return ids


def theme_names() -> set[str]:
    from textual.theme import BUILTIN_THEMES

    return set(BUILTIN_THEMES)


def check(settings: Any) -> None:
    """Raise core's SettingsInvalid (one line naming the file or variable, the key and what is
    allowed) for a theme, binding id or sort column nobody here knows."""
    if settings is None:
        return
    from .core.filter_query import SORT_KEYS

    settings.refuse_unknown("ui.theme", theme_names(), "a theme")
    if settings.ui.keymap:
        settings.refuse_unknown("ui.keymap", binding_ids(), "a binding id")
    if settings.ui.views:
        settings.refuse_unknown("ui.views.sort", set(SORT_KEYS), "a sort column")


def apply(app: Any) -> None:
    """Theme and keymap onto a running app; later theme choices (the palette) are kept."""
    settings = app.settings
    if settings is None:
        return
    ui = settings.ui
    if ui.theme:
        app.theme = ui.theme
    if ui.keymap:
        app.set_keymap(dict(ui.keymap))
    app.theme_changed_signal.subscribe(app, lambda theme: _remember_theme(app, theme.name))


def _remember_theme(app: Any, name: str) -> None:
    """The palette's theme picker changed the theme: keep it in the config file."""
    from .core.errors import HitlError
    from .core.settings import save_ui_choice

    if app.settings.ui.theme == name:
        return
    try:
        app.settings = save_ui_choice("theme", name, settings=app.settings)
    except (HitlError, OSError) as exc:
        app.say(f"Theme {name} is in use but could not be kept for next time: {exc}", "warning", timeout=8)
        return
    origin = app.settings.origin("ui.theme")
    if origin.kind == "env":  # the file has it now, but the variable wins while it is set
        app.say(f"Theme {name} saved in {app.settings.config_file}, but {origin} overrides it while set.",
                "warning", timeout=8)
        return
    app.say(f"Theme {name}; kept in {app.settings.config_file}.", timeout=4)
