"""Settings: one object, built once per process from four sources, and passed down.

Each setting is taken from the first of these that gives it:

  1. what the caller passes (the CLI's `--db`; the demo's own signing key file)
  2. the environment: HITL_ and the name in capitals (HITL_DB_PATH, HITL_UI_THEME, HITL_LLM_MODEL)
  3. the config file: TOML at <config dir>/config.toml, or the file HITL_CONFIG names
  4. the default written below

`Settings.load()` is the front door: it says which source gave each value (`origin`, what
`hitl-tui locate` prints) and turns every bad value into ONE line (SettingsInvalid) naming the
file or the variable, the key, and what is allowed. The CLI and the desk build it once and pass it
to what they open (WorkflowService.open(settings=...)); engine functions called without one load
it themselves, so the Direct API and old callers see the same values.

Not settings, and so never read from the config file (each stays where it is read, and says why):
  HITL_DB_KEY, HITL_DB_PASSPHRASE  secrets (keys.py): a config file is copied, synced and shown
                                   around; a secret belongs in the environment, a 0600 key file
                                   (db_key_file) or the OS keyring. A config file holding one is
                                   refused (SECRET_KEYS), so that nobody believes it is used.
  HITL_LLM_API_KEY                 the same, for the model's API key (agents/settings.py)
  HITL_CONFIG                      where the config file is: it cannot be in the file
  HITL_CRASH_AT                    a fault-injection hook for the crash tests (crashpoints.py), not a
                                   choice a user makes; it must be read at import, before anything
  SSH_CONNECTION, SSH_CLIENT       facts about the session (audit.py records where a decision came
                                   from), not choices
  LOW/MEDIUM/HIGH_RISK_EXPENSE_THRESHOLD, HITL_POLICY_FILE
                                   the seed's policy variables: part of the policy an administrator
                                   applies (commands/policy.py), or warned about as ignored; the
                                   policy lives in the database, never in one process's settings
  RUNTIME_DIRECTORY, CREDENTIALS_DIRECTORY, XDG_RUNTIME_DIR
                                   facts systemd and the login give `hitl-tui serve` (commands/
                                   serve.py): where its socket goes and where its key credential is
  TERM, TERM_PROGRAM, TMUX, PAGER   facts about the terminal the desk runs in and the person's own
                                   pager (alerts.py, clipboard.py, pager.py), shared with every
                                   other program: not hitl-tui's to redefine

The loading itself (the two sources, the checks of the config file, provenance and the one-line
errors) is settings_sources.py, imported when settings are first loaded.

`settings_save.save_ui_choice()` writes one of the desk's choices (the theme picked in the
palette, a saved view) back to the config file, keeping the rest of it as written.

This module never imports textual: a theme or a binding id is checked by the UI, which knows the
names, through `Settings.refuse_unknown` (so the line reads the same as every other).
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Annotated, Any, Collection, Iterator, Literal, Mapping

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator,
                      model_validator)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from .errors import SettingsInvalid

ENV_PREFIX = "HITL_"
CONFIG_ENV = "HITL_CONFIG"
CONFIG_NAME = "config.toml"
#: the default busy timeout (seconds): long enough for any real write to finish
BUSY_TIMEOUT_S = 15.0

#: keys a config file may not hold (after lower-casing and dropping a HITL_ prefix), and where
#: such a secret belongs instead
SECRET_KEYS: dict[str, str] = {
    "db_key": "the environment (HITL_DB_KEY), a 0600 key file (db_key_file) or the OS keyring",
    "db_passphrase": "the environment (HITL_DB_PASSPHRASE) or the passphrase prompt",
    "passphrase": "the environment (HITL_DB_PASSPHRASE) or the passphrase prompt",
    "llm_api_key": "the environment (HITL_LLM_API_KEY) or the OS keyring entry 'hitl-tui-llm'",
    "llm.api_key": "the environment (HITL_LLM_API_KEY) or the OS keyring entry 'hitl-tui-llm'",
    "api_key": "the environment (HITL_LLM_API_KEY) or the OS keyring entry 'hitl-tui-llm'",
}

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_KEYS_RE = re.compile(r"^[^\s,]+(,[^\s,]+)*$")
_SORT_RE = re.compile(r"^-?[a-z][a-z0-9_]*$")


def _allowed(text: str, item: str | None = None) -> dict[str, Any]:
    """What a field accepts, in words: the end of "X is not <allowed>." (item: for one entry of
    a table, such as one binding of the keymap)."""
    return {"json_schema_extra": {"allowed": text, **({"item": item} if item else {})}}


# --- the model -------------------------------------------------------------------------------

def _keys_text(value: str) -> str:
    if not _KEYS_RE.match(value):
        raise ValueError("not keys")
    return value


#: one binding's keys: "A", "ctrl+a,f5" (Textual's names, comma-separated, no spaces)
_Keys = Annotated[str, AfterValidator(_keys_text)]


class SavedView(BaseModel):
    """A named view in the desk: a filter, and optionally a sort."""

    model_config = ConfigDict(extra="forbid")

    filter: str = Field("", **_allowed("filter text such as \"risk:high type:expense\""))
    """The filter text, as typed in the desk's filter field."""
    sort: str | None = Field(None, **_allowed('a column name, with "-" before it for descending (e.g. "-value")'))
    """The column to sort by; "-" before it sorts descending."""

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        return {"filter": value} if isinstance(value, str) else value  # `name = "risk:high"`

    @field_validator("sort")
    @classmethod
    def _sort(cls, value: str | None) -> str | None:
        if value is not None and not _SORT_RE.match(value):
            raise ValueError("bad sort")
        return value


class UiSettings(BaseModel):
    """[ui]: the desk's look and keys (HITL_UI_...)."""

    # extra="ignore": unknown keys of the FILE are refused before validation (_check_keys),
    # while an unrelated HITL_UI_* variable in the environment is nobody's mistake to refuse
    model_config = ConfigDict(extra="ignore", validate_assignment=True)

    theme: str | None = Field(None, **_allowed("the name of a Textual theme"))
    """The colour theme: a Textual theme name (the palette's "Change theme" lists them and saves
    the one you pick here). Default: Textual's own (textual-dark)."""
    keymap: dict[str, _Keys] = Field(
        default_factory=dict,
        **_allowed('a table of binding id = "keys"',
                   'keys as Textual names them, several separated by commas ("A", "ctrl+a,f5")'))
    """Keys to use instead of the defaults, binding id = keys (e.g. "desk.approve" = "A"); the help
    screen (`?`) shows every binding's id."""
    views: dict[str, SavedView] = Field(
        default_factory=dict, **_allowed('a table of name = "filter" or name = { filter = ..., sort = ... }'))
    """Saved filters, shown as views beside the built-in ones: name = "filter text", or
    name = { filter = "...", sort = "-value" }."""
    notify: Literal["off", "bell", "desktop"] = Field("bell", **_allowed('"off", "bell" or "desktop"'))
    """When something new waits for you: "bell" rings the terminal bell, "desktop" asks the
    terminal for a desktop notification (OSC 9 / OSC 777, where it supports them), "off" only
    shows it in the desk."""
    accessible: bool = Field(False, **_allowed("true or false"))
    """Open the line-by-line desk for screen readers (as `hitl-tui --accessible` does): plain
    sentences, no redraws, one command per line."""

    @field_validator("theme")
    @classmethod
    def _theme(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("empty")
        return value.strip() if value else value

    @field_validator("views")
    @classmethod
    def _views(cls, value: dict[str, SavedView]) -> dict[str, SavedView]:
        for name in value:
            if not name.strip():
                raise ValueError("empty view name")
        return value


class LlmSettings(BaseModel):
    """[llm]: the model the assistant talks to (HITL_LLM_...). Neither URL nor model: the
    built-in offline assistant answers. The API key is a secret: HITL_LLM_API_KEY or the OS
    keyring, never this file."""

    model_config = ConfigDict(extra="ignore")

    base_url: str | None = Field(None, **_allowed("a URL (it must start with http:// or https://)"))
    """An OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 (Ollama) or
    https://api.openai.com/v1; needs `model` too."""
    model: str | None = Field(None, **_allowed("a model name such as llama3.1"))
    """The model's name at that endpoint, e.g. llama3.1 or gpt-4o-mini; needs `base_url` too."""
    stream: bool = Field(True, **_allowed("true or false (1/0, yes/no, on/off)"))
    """Stream replies; false asks for whole replies (for servers whose streaming breaks tool calls)."""
    timeout: float = Field(60.0, gt=0, le=3600, **_allowed("a number of seconds above 0, at most 3600"))
    """Seconds allowed for one model call."""
    temperature: float = Field(0.2, ge=0, le=2, **_allowed("a number from 0 to 2"))
    """Sampling temperature sent with every request; low keeps tool calls and answers steady."""
    context: int = Field(8192, ge=512, le=1_048_576, **_allowed("a number of tokens from 512 to 1048576"))
    """The model's context size in tokens (as the server was started with); each request asks for
    no longer a reply than fits in what the prompt leaves of it."""

    @field_validator("base_url", "model", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("not http")
        return value.rstrip("/")


class Settings(BaseSettings):
    """Everything hitl-tui lets a user choose, in one object (see the module docstring)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        # HITL_UI_THEME -> ui.theme, HITL_LLM_BASE_URL -> llm.base_url: one level only, so that
        # HITL_DB_KEY_FILE stays the field db_key_file
        env_nested_delimiter="_", env_nested_max_split=1,
        env_ignore_empty=True,  # HITL_DB_PATH= (empty) means unset, as it always has
        # no use_attribute_docstrings: pydantic would re-read and parse this file once per model
        # at every start (~40 ms); the docstrings below are read only when asked (field_docs)
        extra="ignore", validate_default=False,
        validate_assignment=True,  # with_values() and the UI's changes are checked like loading
    )

    db_path: Path | None = Field(None, **_allowed("a file path"))
    """The database file; `--db` overrides it. Default: hitl.db in the data directory
    (`hitl-tui locate` prints it)."""
    db_key_file: Path | None = Field(None, **_allowed("a file path"))
    """A 0600 file holding the database key (64 hex characters or 32 raw bytes); `hitl-tui init`
    creates it if it is missing. Unset: the key comes from HITL_DB_KEY, the OS keyring or a
    passphrase."""
    signing_key_file: Path | None = Field(None, **_allowed("a file path"))
    """The Ed25519 key that signs audit checkpoints. Default: one file per database in the data
    directory's signing-keys/."""
    server: Path | None = Field(None, **_allowed("a file path (the service's socket)"))
    """Team mode: the socket of the `hitl-tui serve` service that holds the database; commands
    talk to it instead of opening a database here. `--server` overrides it. Unset: the database is
    opened here (embedded mode), or the system service's socket /run/hitl-tui/hitl.sock is used
    when it exists and no database was named."""
    personal_keys: Literal["file", "keyring"] = Field("file", **_allowed('"file" or "keyring"'))
    """Where each person's signing key (Ed25519, `hitl-tui key show`) is kept: "file", a 0600 file
    per database and person in the data directory's personal-keys/; "keyring", the OS keyring."""
    busy_timeout: float = Field(BUSY_TIMEOUT_S, ge=0, le=3600,
                                **_allowed("a number of seconds between 0 and 3600"))
    """Seconds a write waits for another process's write lock before it is refused."""
    claim_minutes: int = Field(30, ge=1, le=1440, **_allowed("a whole number of minutes between 1 and 1440"))
    """How long a claim on the desk (`m`: "I am looking at this") lasts before it lapses by itself."""
    timezone: str | None = Field(None, **_allowed("a known time zone (an IANA name such as Europe/Berlin)"))
    """The deciders' time zone, for the compliance flag on decisions outside working hours (an
    IANA name such as Europe/Berlin). Default: this machine's zone."""
    debug: bool = Field(False, **_allowed("true or false (1/0, yes/no, on/off)"))
    """Let an unexpected error show its traceback instead of one line (for a bug report)."""
    agent_log_level: str = Field("WARNING", **_allowed(f"one of {', '.join(_LOG_LEVELS)}"))
    """How much the assistant's library writes to agents.log in the log directory; at INFO and
    below it logs tool arguments (comments, request text) verbatim."""
    llm: LlmSettings = Field(default_factory=LlmSettings, **_allowed("a [llm] table"))
    """The assistant's model."""
    ui: UiSettings = Field(default_factory=UiSettings, **_allowed("a [ui] table"))
    """The desk's look, keys and saved views."""

    _config_file: Path | None = PrivateAttr(default=None)
    _config_named_by: str = PrivateAttr(default="default")
    _origins: dict[str, "Origin"] = PrivateAttr(default_factory=dict)

    @field_validator("db_path", "db_key_file", "signing_key_file", "server", mode="after")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        value = (value or "").strip() or None
        if value is not None:
            _zone_named(value)  # ValueError when unknown
        return value

    @field_validator("agent_log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.strip().upper()
        if value not in _LOG_LEVELS:
            raise ValueError("unknown level")
        return value

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        from .settings_sources import _LOADING, _Env, _File, _Load

        # no .env files and no secrets directory: init > environment > config file > defaults
        load = _LOADING.get(None) or _Load(os.environ, *config_path(os.environ))
        if not load.file_read:
            load.read_file()
        return init_settings, _Env(settings_cls, load), _File(settings_cls, load)

    # --- building it -------------------------------------------------------------------------

    @classmethod
    def load(cls, *, environ: Mapping[str, str] | None = None, config_file: Path | str | None = None,
             given_by: str = "argument", **overrides: Any) -> "Settings":
        """The settings of this process: `overrides` (None values are ignored) over `environ`
        (default os.environ) over the config file (`config_file`, else HITL_CONFIG, else the
        default path) over the defaults. `given_by` names the overrides in messages ("--db").
        Raises SettingsInvalid (one line) for a malformed file or a bad value."""
        from .settings_sources import _LOADING, _Load, _check_llm_pair, _explain, _origins

        environ = os.environ if environ is None else environ
        path, named_by = (Path(config_file).expanduser(), "argument") if config_file else config_path(environ)
        load = _Load(environ, path, named_by)
        load.read_file()  # refuses a malformed file, a secret in it, an unknown key
        given = {k: v for k, v in overrides.items() if v is not None}
        load.given = given
        token = _LOADING.set(load)
        try:
            settings = cls(**given)
        except ValidationError as exc:
            raise _explain(exc, load, given_by) from None
        finally:
            _LOADING.reset(token)
        settings._config_file, settings._config_named_by = path, named_by
        settings._origins = dict(_origins(settings, load, given_by))
        _check_llm_pair(settings)
        return settings

    def with_values(self, *, given_by: str = "argument", **changes: Any) -> "Settings":
        """A copy with top-level `changes` (checked as loading checks them), their origin
        `given_by`: the demo's own database and signing key file over the user's settings."""
        from .settings_sources import _Load, _explain

        copy = self.model_copy(deep=True)
        copy._origins = dict(self._origins)
        for name, value in changes.items():
            try:
                setattr(copy, name, value)
            except ValidationError as exc:
                load = _Load({}, self.config_file, self._config_named_by, given={name: value})
                raise _explain(exc, load, given_by) from None
            copy._origins[name] = Origin("argument", given_by)
        return copy

    # --- where things came from ----------------------------------------------------------------

    @property
    def config_file(self) -> Path:
        """The config file these settings were read from (it may not exist)."""
        if self._config_file is None:
            self._config_file = config_path(os.environ)[0]
        return self._config_file

    @property
    def config_file_named_by(self) -> str:
        """"HITL_CONFIG", "argument" or "default": who chose the config file's path."""
        return self._config_named_by

    def origin(self, key: str) -> "Origin":
        """Where the value of `key` ("busy_timeout", "ui.theme", "ui.keymap") came from."""
        found = self._origins.get(key)
        if found is not None:
            return found
        entries = [o for k, o in self._origins.items() if k.startswith(f"{key}[")]
        if entries:  # a table whose entries came from several sources: the strongest one
            return min(entries, key=lambda o: _RANK[o.kind])
        return Origin("default", "default")

    def origins(self) -> dict[str, "Origin"]:
        """Every setting's origin, table entries one by one (`ui.keymap["desk.approve"]`)."""
        return dict(self._origins)

    def where(self, key: str) -> str:
        """How a message names the place `key` was set: "HITL_DB_KEY_FILE", "db_key_file in
        /home/ann/.config/hitl-tui/config.toml", "--db" or "the default"."""
        o = self.origin(key)
        return {"env": o.detail, "file": f"{key} in {o.detail}", "argument": o.detail}.get(o.kind, "the default")

    # --- values as the engine uses them --------------------------------------------------------

    @property
    def zone(self) -> tzinfo | None:
        """The `timezone` setting as a tzinfo; None for this machine's zone."""
        return None if self.timezone is None else _zone_named(self.timezone)

    def refuse_unknown(self, key: str, allowed: Collection[str], noun: str) -> None:
        """For the UI, which knows the names core does not (themes, binding ids, columns): raise
        SettingsInvalid when the value of `key` (a str setting), a key of `key` (a table such as
        "ui.keymap") or a view's sort column ("ui.views.sort") is not in `allowed`. `noun` names
        one allowed thing ("a theme", "a binding id"); the line names where it was set."""
        names = sorted(allowed)
        if key == "ui.views.sort":
            for name, view in self.ui.views.items():
                column = (view.sort or "").lstrip("-")
                if view.sort is not None and column not in allowed:
                    raise self._unknown(f'ui.views["{name}"].sort', view.sort, column, names, noun,
                                        f'ui.views["{name}"]')
            return
        value = self._value(key)
        if isinstance(value, dict):
            for entry in value:
                if entry not in allowed:
                    raise self._unknown(f'{key}["{entry}"]', value[entry], entry, names, noun,
                                        what=f"{entry!r} is not {noun}")
        elif value is not None and value not in allowed:
            raise self._unknown(key, value, str(value), names, noun)

    def _unknown(self, key: str, value: Any, name: str, names: list[str], noun: str, origin_key: str | None = None,
                 what: str | None = None) -> SettingsInvalid:
        from .settings_sources import _line

        close = difflib.get_close_matches(name, names, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        listed = ", ".join(names[:24]) + (f", ... ({len(names)} in all)" if len(names) > 24 else "")
        line = _line(self.origin(origin_key or key), key, value, f"{noun} ({hint}known: {listed})")
        if what:  # a table's key is wrong, not its value
            line = line.replace(f"is not {noun} (", f"is refused: {what} (", 1)
        return SettingsInvalid(line, key)

    def _value(self, key: str) -> Any:
        value: Any = self
        for part in key.split("."):
            value = getattr(value, part)
        return value

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:  # the config file is part of what these settings are
        yield from super().__repr_args__()
        yield "config_file", self._config_file


@dataclass(frozen=True)
class Origin:
    #: "argument" (given by the caller), "env", "file" or "default"
    kind: str
    #: the variable (HITL_DB_PATH), the config file's path, the caller's name (--db), "default"
    detail: str

    def __str__(self) -> str:
        return {"env": f"environment ({self.detail})", "file": f"config file ({self.detail})",
                "argument": self.detail}.get(self.kind, "default")


_RANK = {"argument": 0, "env": 1, "file": 2, "default": 3}


def config_path(environ: Mapping[str, str] | None = None) -> tuple[Path, str]:
    """(the config file's path, "HITL_CONFIG" or "default"); the file need not exist."""
    environ = os.environ if environ is None else environ
    named = (environ.get(CONFIG_ENV) or "").strip()
    if named:
        return Path(named).expanduser(), CONFIG_ENV
    from .paths import config_dir

    return config_dir() / CONFIG_NAME, "default"


def save_ui_choice(name: str, value: Any, **kwargs: Any) -> Settings:
    """Save one of the desk's choices to the config file and return the settings the next start
    reads: settings_save.save_ui_choice (tomlkit and the writing are imported only when saving)."""
    from .settings_save import save_ui_choice as save

    return save(name, value, **kwargs)


def given_or_loaded(settings: Settings | None) -> Settings:
    """`settings`, or this process's settings when the caller passed none (old callers, tests,
    the Direct API): what the engine's default arguments use."""
    return settings if settings is not None else Settings.load()


def env_var(key: str) -> str:
    """The environment variable of a setting: "ui.theme" -> HITL_UI_THEME."""
    return ENV_PREFIX + key.split("[")[0].replace(".", "_").upper()


def fields() -> Iterator[tuple[str, Any, Any]]:
    """(key, FieldInfo, default) of every setting, nested tables' fields as "ui.theme": what
    `hitl-tui locate` and the README's table list (field_docs() gives each one's docstring)."""
    for name, info in Settings.model_fields.items():
        kind = info.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            for sub, sub_info in kind.model_fields.items():
                yield f"{name}.{sub}", sub_info, sub_info.get_default(call_default_factory=True)
        else:
            yield name, info, info.get_default(call_default_factory=True)


def field_docs() -> dict[str, str]:
    """Every setting's docstring (the string under its field in this file), by key ("ui.theme"),
    one line each. Read from the source when asked (the README's table), so that
    the docstrings are the one description of each setting and cost nothing at start-up."""
    import ast
    import inspect
    import sys

    tree = ast.parse(inspect.getsource(sys.modules[__name__]))
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    prefix = {"Settings": "", "LlmSettings": "llm.", "UiSettings": "ui.", "SavedView": "ui.views.*."}
    docs: dict[str, str] = {}
    for cls, lead in prefix.items():
        body = classes[cls].body
        for stmt, after in zip(body, body[1:]):
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) \
                    and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant) \
                    and isinstance(after.value.value, str):
                docs[lead + stmt.target.id] = " ".join(inspect.cleandoc(after.value.value).split())
    return docs


def _zone_named(name: str) -> tzinfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("unknown zone") from None
