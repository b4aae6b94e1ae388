"""Saving one choice the desk makes (the theme picked in the palette, a saved view) back to the
config file, keeping everything else in it as the person wrote it.

tomlkit, not tomli-w: it keeps comments, order and layout, so saving a theme never rewrites the
file a person curates by hand. The write is all or nothing (safe_files.replace_file: temp file
beside it, fsync, rename, directory fsync), and what is written is checked first exactly as
loading will read it back (settings.UiSettings), so a save can never leave a file that stops the
next start.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Mapping

from pydantic import ValidationError

from .errors import SettingsInvalid
from .settings import Origin, SavedView, Settings, UiSettings, config_path, env_var


def save_ui_choice(name: str, value: Any, *, settings: Settings | None = None,
                   config_file: Path | str | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Write one [ui] choice to the config file: `name` is "theme", "notify", "accessible",
    "keymap.<binding id>" or "views.<name>"; a value of None removes it. The rest of the file,
    comments and layout included, stays as it was (tomlkit). All or nothing: a temp file beside
    it, fsynced, renamed over it (safe_files.replace_file, mode 0600); a symlinked config file is
    replaced at its target. Refuses (SettingsInvalid, nothing written) a value the setting does
    not accept, or a config file that does not load: it is never overwritten.

    The file is `config_file`, else `settings`' config file, else this process's. Returns the
    settings as the next start will read them: `settings` (default: loaded now) with the choice
    in place and its origin the file, unless a HITL_UI_ variable still decides it; then that
    value and origin stay, and `origin(...).kind == "env"` lets the UI say so."""
    import tomlkit  # imported when saving: the start-up path only reads (tomllib)
    from tomlkit.exceptions import TOMLKitError

    from .safe_files import replace_file

    environ = os.environ if environ is None else environ
    if config_file is not None:
        path = Path(config_file).expanduser()
    elif settings is not None:
        path = settings.config_file
    else:
        path = config_path(environ)[0]
    if settings is None:  # a file that does not load is refused here, before anything is written
        try:
            settings = Settings.load(environ=environ, config_file=path)
        except SettingsInvalid as exc:
            raise SettingsInvalid(f"{exc} Nothing was saved.", exc.field) from None
    head, _, entry = name.partition(".")
    if head not in UiSettings.model_fields or (entry and head not in ("keymap", "views")) \
            or (head in ("keymap", "views") and not entry):
        known = ", ".join(["theme", "notify", "accessible", "keymap.<binding id>", "views.<name>"])
        raise SettingsInvalid(f"{name!r} is not a choice the desk saves (it saves {known}).", f"ui.{name}")
    if value is not None:  # validated exactly as loading will read it back
        candidate = {head: {entry: value}} if entry else {head: value}
        try:
            UiSettings.model_validate(candidate)
        except ValidationError:
            extra = UiSettings.model_fields[head].json_schema_extra
            allowed = extra if isinstance(extra, dict) else {}
            text = (allowed.get("item") if head == "keymap" else None) or allowed.get("allowed", "allowed")
            raise SettingsInvalid(f"ui.{name} = {value!r} is not {text}; nothing was saved.", f"ui.{name}") from None
    target = path.resolve() if path.is_symlink() else path
    try:
        text = target.read_text("utf-8") if target.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsInvalid(f"Cannot read config file {target}: {getattr(exc, 'strerror', None) or exc}; nothing was saved.") from None
    try:
        tomllib.loads(text)  # the reader's verdict: a file it refuses is never rewritten
        doc = tomlkit.parse(text)
    except (tomllib.TOMLDecodeError, TOMLKitError) as exc:
        raise SettingsInvalid(f"Config file {target} is not valid TOML ({exc}); fix it first; nothing "
                              f"was saved.") from None
    ui = doc.get("ui")
    if ui is None:
        if value is None:
            return _after(settings, head, entry, value, target, environ)
        ui = tomlkit.table()
        doc["ui"] = ui
    elif not isinstance(ui, dict):
        raise SettingsInvalid(f"Config file {target}: ui is not a [ui] table; fix it first; nothing was saved.", "ui")
    if entry:
        table = ui.get(head)
        if table is None:
            table = tomlkit.table()
            ui[head] = table
        if value is None:
            table.pop(entry, None)
        else:
            table[entry] = _plain(value)
    elif value is None:
        ui.pop(head, None)
    else:
        ui[head] = _plain(value)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    replace_file(target, tomlkit.dumps(doc).encode("utf-8"))
    return _after(settings, head, entry, value, target, environ)


def _plain(value: Any) -> Any:
    if isinstance(value, SavedView):
        return {k: v for k, v in value.model_dump().items() if v is not None}
    return value


def _after(settings: Settings, head: str, entry: str, value: Any, path: Path,
           environ: Mapping[str, str]) -> Settings:
    """`settings` as the next load will give them once the file holds the choice."""
    var = env_var(f"ui.{head}")
    if (environ.get(var) or "").strip():
        return settings  # the environment still decides: nothing changes until it is unset
    new = settings.model_copy(deep=True)
    origins = dict(settings.origins())
    if entry:
        table = dict(getattr(new.ui, head))
        key = f'ui.{head}["{entry}"]'
        if value is None:
            table.pop(entry, None)
            origins.pop(key, None)
        else:
            table[entry] = value
            origins[key] = Origin("file", str(path))
        setattr(new.ui, head, table)
        if table:
            origins.pop(f"ui.{head}", None)
        else:
            origins[f"ui.{head}"] = Origin("default", "default")
    else:
        if value is None:
            setattr(new.ui, head, UiSettings.model_fields[head].get_default(call_default_factory=True))
            origins[f"ui.{head}"] = Origin("default", "default")
        else:
            setattr(new.ui, head, value)
            origins[f"ui.{head}"] = Origin("file", str(path))
    new._origins = origins
    return new
