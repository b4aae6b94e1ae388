"""Loading Settings: the sources Settings.load() reads, and where each value came from.

This module owns the machinery behind `Settings.load()` and `Settings.with_values()`:

  - _Env and _File, the two pydantic-settings sources (the environment, or the mapping given to
    load(environ=...); the config file), and _Load, the one record of what a load read and what
    each source gave
  - _read_config and its checks: a malformed file, a secret in it (SECRET_KEYS) or a key no
    setting has is refused before validation
  - provenance (_origins: which source gave each value, what `hitl-tui locate` prints) and the
    one-line errors (_explain, _line): the file or the variable, the key, and what is allowed

The model itself (Settings, its tables, the public helpers) lives in settings.py, which imports
this module inside the methods that load, never at its top: so this one imports the model at the
top without an import cycle, as settings_save.py does.
"""

from __future__ import annotations

import difflib
import tomllib
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, get_args

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import SettingsError as PydanticSettingsError
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource
from pydantic_settings.sources.utils import parse_env_vars

from .errors import SettingsInvalid
from .settings import (CONFIG_ENV, ENV_PREFIX, SECRET_KEYS, LlmSettings, Origin, SavedView, Settings, UiSettings,
                       env_var, fields)

_EXAMPLE_JSON = {"ui.keymap": '{"desk.approve": "A"}', "ui.views": '{"big": "risk:high"}'}


# --- loading: the sources --------------------------------------------------------------------

@dataclass
class _Load:
    """One Settings.load(): the environment and config file it reads, and what each gave."""

    environ: Mapping[str, str]
    path: Path
    named_by: str
    file_data: dict[str, Any] = field(default_factory=dict)
    env_data: dict[str, Any] = field(default_factory=dict)
    given: dict[str, Any] = field(default_factory=dict)
    env_raw: dict[str, str] = field(default_factory=dict)
    file_read: bool = False

    def read_file(self) -> None:
        self.file_data = _read_config(self.path, self.named_by)
        self.file_read = True


_LOADING: ContextVar[_Load | None] = ContextVar("hitl_settings_loading", default=None)


class _Env(EnvSettingsSource):
    """The environment, or the mapping given to Settings.load(environ=...)."""

    def __init__(self, settings_cls: type[BaseSettings], load: _Load) -> None:
        self._load = load
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._load.environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)

    def __call__(self) -> dict[str, Any]:
        self._load.env_raw = {k.upper(): v for k, v in self.env_vars.items()
                              if k.upper().startswith(ENV_PREFIX) and v is not None}
        try:
            data = super().__call__()
        except PydanticSettingsError:  # a table given as JSON that does not parse
            raise self._bad_json() from None
        self._load.env_data = data
        return data

    def _bad_json(self) -> SettingsInvalid:
        import json

        for key, info, _default in fields():
            var = env_var(key)
            raw = self._load.env_raw.get(var)
            if raw is None or getattr(info.annotation, "__origin__", None) is not dict:
                continue
            try:
                json.loads(raw)
            except json.JSONDecodeError as exc:
                allowed = (info.json_schema_extra or {}).get("allowed", "a table")
                return SettingsInvalid(f"{var}={raw!r} is not JSON ({exc.msg} at character {exc.pos}): it must "
                                       f"be {allowed}, written as JSON, e.g. {var}='{_EXAMPLE_JSON[key]}'.", key)
        return SettingsInvalid("A HITL_ variable holds a table that is not valid JSON; `hitl-tui locate` lists "
                               "the settings.")


class _File(PydanticBaseSettingsSource):
    """The config file, read and checked by _read_config before validation."""

    def __init__(self, settings_cls: type[BaseSettings], load: _Load) -> None:
        super().__init__(settings_cls)
        self._load = load

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover - __call__ does the work
        return self._load.file_data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return self._load.file_data


def _read_config(path: Path, named_by: str) -> dict[str, Any]:
    """The config file's tables, or {} when there is none; one line for anything wrong with it."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}  # no file is no choice made: the defaults (HITL_CONFIG may name a file to come)
    except IsADirectoryError:
        raise SettingsInvalid(f"Config file {path}{_named(named_by)} is a directory, not a TOML file.") from None
    except OSError as exc:
        raise SettingsInvalid(f"Cannot read config file {path}{_named(named_by)}: {_why(exc)}.") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise SettingsInvalid(f"Config file {path} is not UTF-8 text; save it as UTF-8 TOML.") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsInvalid(f"Config file {path} is not valid TOML: {exc}. Fix that line, or move the "
                              f"file aside to use the defaults.") from None
    _check_keys(data, path)
    return data


def _check_keys(data: dict[str, Any], path: Path) -> None:
    """A secret, or a key no setting has, is refused: a typo would otherwise be silently ignored."""
    for key in data:
        _refuse_secret(key, key, path)
        if key not in Settings.model_fields:
            raise _unknown_key(key, list(Settings.model_fields), path)
    for section, model in (("llm", LlmSettings), ("ui", UiSettings)):
        table = data.get(section)
        if not isinstance(table, dict):
            continue  # not a table: validation says what is allowed
        for key in table:
            _refuse_secret(f"{section}.{key}", f"{section}_{key}", path)
            _refuse_secret(f"{section}.{key}", key if section == "llm" else "", path)
            if key not in model.model_fields:
                raise _unknown_key(f"{section}.{key}", [f"{section}.{k}" for k in model.model_fields], path)
        views = table.get("views") if section == "ui" else None
        if isinstance(views, dict):
            for name, view in views.items():
                if isinstance(view, dict):
                    for key in view:
                        if key not in SavedView.model_fields:
                            raise SettingsInvalid(
                                f'Config file {path}: ui.views["{name}"] has no setting {key!r} (a view has '
                                f'filter and sort).', f"ui.views.{name}")


def _refuse_secret(shown: str, key: str, path: Path) -> None:
    norm = key.lower().removeprefix("hitl_")
    if norm in SECRET_KEYS:
        raise SettingsInvalid(
            f"Config file {path}: {shown} is a secret, and secrets are never read from a config file; remove "
            f"it from the file and keep it in {SECRET_KEYS[norm]}.", shown)


def _unknown_key(key: str, known: list[str], path: Path) -> SettingsInvalid:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    return SettingsInvalid(f"Config file {path}: {key} is not a setting ({hint}the settings are: "
                           f"{', '.join(known)}).", key)


def _named(named_by: str) -> str:
    return f" (named by {CONFIG_ENV})" if named_by == CONFIG_ENV else ""


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


# --- loading: provenance and the one-line errors ------------------------------------------------

def _has(data: Mapping[str, Any], parts: list[str]) -> bool:
    for part in parts:
        if not isinstance(data, Mapping) or part not in data:
            return False
        data = data[part]
    return True


def _origin_of(parts: list[str], load: _Load, given_by: str) -> Origin:
    if _has(load.given, parts):
        return Origin("argument", given_by)
    if _has(load.env_data, parts):
        # HITL_UI_KEYMAP (a JSON table) gives every entry of ui.keymap
        return Origin("env", env_var(".".join(parts[:2])))
    if _has(load.file_data, parts):
        return Origin("file", str(load.path))
    return Origin("default", "default")


def _origins(settings: Settings, load: _Load, given_by: str) -> Iterator[tuple[str, Origin]]:
    for key, _info, _default in fields():
        parts = key.split(".")
        value = settings._value(key)
        if isinstance(value, dict):
            if not value:
                yield key, _origin_of(parts, load, given_by)
            for entry in value:
                yield f'{key}["{entry}"]', _origin_of([*parts, entry], load, given_by)
        else:
            yield key, _origin_of(parts, load, given_by)


def _line(origin: Origin, key: str, value: Any, allowed: str, load: _Load | None = None) -> str:
    """The one line for a bad value: where it was set, the key, the value, what is allowed."""
    if origin.kind == "env":
        raw = load.env_raw.get(origin.detail) if load is not None else value
        if raw is not None and env_var(key) == origin.detail and "[" not in key:
            return f"{origin.detail}={raw!r} is not {allowed}."  # HITL_BUSY_TIMEOUT='soon' is not ...
        return f"{origin.detail}: {key} = {value!r} is not {allowed}."  # an entry of a JSON table
    if origin.kind == "file":
        return f"Config file {origin.detail}: {key} = {_toml(value)} is not {allowed}."
    if origin.kind == "argument":
        return f"Setting {key} = {value!r} ({origin.detail}) is not {allowed}."
    return f"Setting {key} = {value!r} is not {allowed}."


def _located(loc: tuple[Any, ...]) -> tuple[str, list[str], Any, bool]:
    """(display key, the path of names and entries, FieldInfo of the deepest field, True when
    the path ends at an entry of a table of plain values) for a validation error's location.
    Steps after a plain field are pydantic's own tags (function-after[...], is-instance[...])."""
    model: Any = Settings
    info, names, shown, entry = None, [], "", False
    for step in loc:
        if model is None:
            break  # inside a plain value: pydantic's tags follow
        if isinstance(model, type) and issubclass(model, BaseModel):
            if step not in model.model_fields:
                break
            info, entry = model.model_fields[step], False
            names.append(str(step))
            shown += f".{step}" if shown else str(step)
            kind = info.annotation
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                model = kind
            elif getattr(kind, "__origin__", None) is dict:
                model = dict
                value_type = get_args(kind)[1]
                table_of = value_type if isinstance(value_type, type) and issubclass(value_type, BaseModel) else None
            else:
                model = None
        elif model is dict:
            names.append(str(step))
            shown += f'["{step}"]'
            entry = True
            model = table_of
        else:
            break
    return shown, names, info, entry


def _explain(exc: ValidationError, load: _Load, given_by: str) -> SettingsInvalid:
    error = exc.errors()[0]
    key, names, info, entry = _located(tuple(error["loc"]))
    origin = _origin_of(names, load, given_by)
    extra = (info.json_schema_extra or {}) if info is not None else {}
    allowed = (extra.get("item") if entry else None) or extra.get("allowed") or "allowed here"
    return SettingsInvalid(_line(origin, key, error.get("input"), allowed, load), key)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def _check_llm_pair(settings: Settings) -> None:
    """A model needs both its URL and its name; neither is the offline assistant."""
    llm = settings.llm
    if bool(llm.base_url) == bool(llm.model):
        return
    present, missing = ("base_url", "model") if llm.base_url else ("model", "base_url")
    given = settings.origin(f"llm.{present}")
    if given.kind == "env":
        raise SettingsInvalid(
            f"{env_var('llm.' + missing)} is not set: a model needs both {env_var('llm.base_url')} and "
            f"{env_var('llm.model')} (unset both for the offline assistant).", f"llm.{missing}")
    where = f"Config file {given.detail}: " if given.kind == "file" else ""
    raise SettingsInvalid(
        f"{where}llm.{present} is set but llm.{missing} is not: a model needs both (remove both for the offline "
        f"assistant).", f"llm.{missing}")
