"""Settings (core/settings.py): one object from init > environment > config file > defaults, one
line for every bad value, secrets refused in the file, saving a desk choice without losing the
rest of the file, and the engine taking its values from the object it is given.

In-process and fast: each test passes its own environment mapping or uses the temporary HOME of
tests/conftest.py, so nothing here reads the developer's real config file.
"""

from __future__ import annotations

import ast
import os
import re
import runpy
import stat
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hitl_tui.core.errors import SettingsInvalid, ValidationFailed
from hitl_tui.core.settings import CONFIG_NAME, Settings, config_path, field_docs, fields
from hitl_tui.core.settings import save_ui_choice

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cfg(tmp_path) -> Path:
    return tmp_path / "config.toml"


def load(cfg: Path, text: str | None = None, **env: str) -> Settings:
    if text is not None:
        cfg.write_text(text, "utf-8")
    return Settings.load(environ={"HITL_CONFIG": str(cfg), **env})


def refused(cfg: Path, text: str | None = None, **env: str) -> str:
    with pytest.raises(SettingsInvalid) as caught:
        load(cfg, text, **env)
    line = str(caught.value)
    assert "\n" not in line and "Traceback" not in line
    return line


# --- sources and their order ----------------------------------------------------------------

def test_defaults_with_no_file_and_no_environment(cfg):
    s = load(cfg)
    assert (s.db_path, s.busy_timeout, s.ui.notify, s.ui.theme, s.llm.model) == (None, 15.0, "bell", None, None)
    assert {o.kind for o in s.origins().values()} == {"default"}
    assert s.config_file == cfg and s.config_file_named_by == "HITL_CONFIG"


def test_argument_beats_environment_beats_file_beats_default(cfg):
    cfg.write_text('busy_timeout = 5\ntimezone = "Asia/Tokyo"\ndb_path = "/from/file.db"\n'
                   '[ui]\ntheme = "nord"\nnotify = "off"\n', "utf-8")
    s = Settings.load(environ={"HITL_CONFIG": str(cfg), "HITL_BUSY_TIMEOUT": "2", "HITL_UI_THEME": "dracula",
                               "HITL_DB_PATH": "/from/env.db"},
                      db_path=Path("/from/arg.db"), given_by="--db")
    assert (s.db_path, s.busy_timeout, s.timezone, s.ui.theme, s.ui.notify, s.debug) == \
        (Path("/from/arg.db"), 2.0, "Asia/Tokyo", "dracula", "off", False)
    origin = {k: (o.kind, o.detail) for k, o in s.origins().items()}
    assert origin["db_path"] == ("argument", "--db")
    assert origin["busy_timeout"] == ("env", "HITL_BUSY_TIMEOUT")
    assert origin["ui.theme"] == ("env", "HITL_UI_THEME")
    assert origin["timezone"] == ("file", str(cfg)) and origin["ui.notify"] == ("file", str(cfg))
    assert origin["debug"] == ("default", "default")
    assert s.where("timezone") == f"timezone in {cfg}" and s.where("busy_timeout") == "HITL_BUSY_TIMEOUT"


def test_a_none_argument_leaves_the_lower_sources_alone(cfg):
    s = Settings.load(environ={"HITL_CONFIG": str(cfg), "HITL_DB_PATH": "/from/env.db"}, db_path=None)
    assert s.db_path == Path("/from/env.db") and s.origin("db_path").kind == "env"


def test_tables_merge_entry_by_entry_and_each_entry_has_its_origin(cfg):
    s = load(cfg, '[ui.keymap]\n"desk.approve" = "A"\n"desk.reject" = "R"\n'
                  '[ui.views]\nbig = "risk:high"\nstale = { filter = "age:>2d", sort = "-age" }\n',
             HITL_UI_KEYMAP='{"desk.reject": "X"}')
    assert s.ui.keymap == {"desk.approve": "A", "desk.reject": "X"}
    assert (s.ui.views["big"].filter, s.ui.views["big"].sort) == ("risk:high", None)
    assert (s.ui.views["stale"].filter, s.ui.views["stale"].sort) == ("age:>2d", "-age")
    assert s.origin('ui.keymap["desk.approve"]').kind == "file"
    assert s.origin('ui.keymap["desk.reject"]') .detail == "HITL_UI_KEYMAP"


def test_the_default_config_file_is_config_toml_in_the_config_directory():
    from hitl_tui.core.paths import config_dir

    assert config_path({}) == (config_dir() / CONFIG_NAME, "default")
    assert config_path({"HITL_CONFIG": "~/elsewhere.toml"}) == (Path("~/elsewhere.toml").expanduser(), "HITL_CONFIG")
    config_dir().mkdir(parents=True, exist_ok=True)  # the temporary HOME of tests/conftest.py
    (config_dir() / CONFIG_NAME).write_text('[ui]\ntheme = "monokai"\n')
    assert Settings.load().ui.theme == "monokai"


def test_empty_variables_are_unset_and_unrelated_hitl_variables_are_ignored(cfg):
    s = load(cfg, HITL_DB_PATH="", HITL_TIMEZONE="", HITL_POLICY_FILE="x.toml", HITL_UI_THEMEE="x",
             HITL_LLM_API_KEY="sk-secret", HITL_DB_KEY="00" * 32)
    assert s.db_path is None and s.timezone is None
    dumped = repr(s) + repr(s.model_dump())
    assert "sk-secret" not in dumped and "00" * 32 not in dumped  # secrets never enter the object


def test_every_field_is_documented_with_what_it_allows():
    keys = [key for key, _info, _default in fields()]
    assert {"db_path", "db_key_file", "signing_key_file", "personal_keys", "busy_timeout", "claim_minutes", "timezone", "debug", "agent_log_level", "server",
            "llm.base_url", "llm.model", "llm.stream", "llm.timeout", "llm.temperature", "llm.context",
            "ui.theme", "ui.keymap", "ui.views",
            "ui.notify", "ui.accessible"} == set(keys)
    docs = field_docs()
    for key, info, _default in fields():
        assert len(docs[key].split()) >= 5, key  # the docstring under the field
        assert (info.json_schema_extra or {}).get("allowed"), key
    assert docs["ui.views.*.sort"].startswith("The column to sort by")  # a view's own fields too


def test_the_readme_table_lists_every_setting_as_the_model_documents_it():
    script = runpy.run_path(str(ROOT / "scripts" / "settings_table.py"))
    readme = (ROOT / "README.md").read_text("utf-8")
    assert script["rewritten"](readme) == readme, "run python scripts/settings_table.py"
    for key, _info, _default in fields():
        assert f"`HITL_{key.replace('.', '_').upper()}`" in readme, key


def test_the_readme_example_config_loads_as_written(tmp_path):
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("## Settings and the config file", 1)[1]
    example = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    s = load(tmp_path / "example.toml", example)
    assert s.ui.theme and s.ui.keymap and s.ui.views and s.ui.notify != "bell" and s.llm.model


# --- one line for everything wrong ------------------------------------------------------------

def test_a_malformed_file_names_the_file_and_the_line(cfg):
    line = refused(cfg, '[ui]\ntheme = "nord"\nnotify = \n')
    assert line.startswith(f"Config file {cfg} is not valid TOML:") and "line 3" in line
    assert "move the file aside" in line


@pytest.mark.parametrize("text, expected", [
    ('busy_timeout = "soon"\n', 'busy_timeout = "soon" is not a number of seconds between 0 and 3600.'),
    ("busy_timeout = 99999\n", "busy_timeout = 99999 is not a number of seconds between 0 and 3600."),
    ('[ui]\nnotify = "loud"\n', 'ui.notify = "loud" is not "off", "bell" or "desktop".'),
    ('timezone = "Mars/Olympus"\n', 'timezone = "Mars/Olympus" is not a known time zone'),
    ('[ui.keymap]\n"desk.approve" = "a b"\n', 'ui.keymap["desk.approve"] = "a b" is not keys as Textual names them'),
    ('[ui.views]\nbig = { filter = "x", sort = "- age" }\n', 'ui.views["big"].sort = "- age" is not a column name'),
    ("ui = 3\n", "ui = 3 is not a [ui] table."),
    ('[llm]\nbase_url = "localhost:11434"\nmodel = "m"\n', "must start with http:// or https://"),
    ('agent_log_level = "loud"\n', "is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL."),
])
def test_a_bad_value_in_the_file_names_file_key_and_what_is_allowed(cfg, text, expected):
    line = refused(cfg, text)
    assert line.startswith(f"Config file {cfg}: ") and expected in line, line


@pytest.mark.parametrize("env, expected", [
    ({"HITL_BUSY_TIMEOUT": "soon"}, "HITL_BUSY_TIMEOUT='soon' is not a number of seconds between 0 and 3600."),
    ({"HITL_UI_NOTIFY": "loud"}, "HITL_UI_NOTIFY='loud' is not \"off\", \"bell\" or \"desktop\"."),
    ({"HITL_DEBUG": "2"}, "HITL_DEBUG='2' is not true or false"),
    ({"HITL_UI_KEYMAP": "A"}, "HITL_UI_KEYMAP='A' is not JSON"),
    ({"HITL_UI_KEYMAP": '{"desk.approve": ""}'}, "HITL_UI_KEYMAP: ui.keymap[\"desk.approve\"] = '' is not keys"),
    ({"HITL_LLM_BASE_URL": "http://h/v1"}, "HITL_LLM_MODEL is not set: a model needs both"),
])
def test_a_bad_value_in_the_environment_names_the_variable(cfg, env, expected):
    line = refused(cfg, None, **env)
    assert line.startswith(expected), line


def test_an_unknown_key_is_refused_with_the_nearest_setting(cfg):
    assert "ui.them is not a setting (did you mean ui.theme?" in refused(cfg, '[ui]\nthem = "nord"\n')
    assert "busy_timout is not a setting (did you mean busy_timeout?" in refused(cfg, "busy_timout = 3\n")
    assert "has no setting 'filtr'" in refused(cfg, '[ui.views]\nbig = { filtr = "x" }\n')


@pytest.mark.parametrize("text, shown, belongs", [
    ('db_key = "' + "ab" * 32 + '"\n', "db_key", "HITL_DB_KEY"),
    ('HITL_DB_PASSPHRASE = "hunter2"\n', "HITL_DB_PASSPHRASE", "HITL_DB_PASSPHRASE"),
    ('[llm]\napi_key = "sk-1"\n', "llm.api_key", "HITL_LLM_API_KEY"),
])
def test_a_secret_in_the_config_file_is_refused_and_never_echoed(cfg, text, shown, belongs):
    line = refused(cfg, text)
    assert f"Config file {cfg}: {shown} is a secret" in line and belongs in line
    assert "hunter2" not in line and "sk-1" not in line and "ab" * 32 not in line


def test_an_unreadable_or_directory_config_is_one_line(tmp_path):
    folder = tmp_path / "cfg.d"
    folder.mkdir()
    with pytest.raises(SettingsInvalid, match=f"Config file {folder} \\(named by HITL_CONFIG\\) is a directory"):
        Settings.load(environ={"HITL_CONFIG": str(folder)})
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"theme = \xff\n")
    with pytest.raises(SettingsInvalid, match="is not UTF-8 text"):
        Settings.load(environ={"HITL_CONFIG": str(binary)})


def test_settings_errors_are_the_validation_failures_callers_already_handle(cfg):
    with pytest.raises(ValidationFailed) as caught:
        load(cfg, None, HITL_TIMEZONE="Nowhere/Else")
    assert caught.value.code == "settings_invalid" and caught.value.field == "timezone"  # the setting's key


# --- the UI checks names core does not know -----------------------------------------------------

def test_refuse_unknown_names_the_origin_and_the_nearest_name(cfg):
    s = load(cfg, '[ui]\ntheme = "nordd"\n[ui.keymap]\n"desk.aprove" = "A"\n[ui.views]\nold = { sort = "-agee" }\n')
    themes = ["nord", "dracula", "textual-dark"]
    with pytest.raises(SettingsInvalid) as caught:
        s.refuse_unknown("ui.theme", themes, "a theme")
    assert str(caught.value).startswith(f'Config file {cfg}: ui.theme = "nordd" is not a theme (did you mean '
                                        f"'nord'? known: dracula, nord, textual-dark).")
    with pytest.raises(SettingsInvalid, match="'desk.aprove' is not a binding id \\(did you mean 'desk.approve'"):
        s.refuse_unknown("ui.keymap", ["desk.approve", "desk.reject"], "a binding id")
    with pytest.raises(SettingsInvalid, match="sort = \"-agee\" is not a column"):
        s.refuse_unknown("ui.views.sort", ["age", "risk"], "a column")
    s.refuse_unknown("ui.theme", ["nordd"], "a theme")  # known: nothing to say
    env = load(cfg, "", HITL_UI_THEME="nope")
    with pytest.raises(SettingsInvalid, match="^HITL_UI_THEME='nope' is not a theme"):
        env.refuse_unknown("ui.theme", themes, "a theme")


def test_with_values_overrides_checks_and_records_the_origin(cfg, tmp_path):
    s = load(cfg, 'signing_key_file = "/users/own.ed25519"\n[ui]\ntheme = "nord"\n')
    demo = s.with_values(given_by="the demo", signing_key_file=tmp_path / "demo.ed25519")
    assert demo.signing_key_file == tmp_path / "demo.ed25519" and demo.ui.theme == "nord"
    assert demo.origin("signing_key_file").detail == "the demo" and demo.config_file == cfg
    assert s.signing_key_file == Path("/users/own.ed25519")  # the original is untouched
    with pytest.raises(SettingsInvalid, match="busy_timeout = -1 \\(the demo\\) is not a number"):
        s.with_values(given_by="the demo", busy_timeout=-1)


# --- saving one choice ----------------------------------------------------------------------------

HAND_WRITTEN = """\
# my hitl-tui settings
busy_timeout = 5  # seconds: the NAS is slow

[ui]
# dark in the evening
theme = "nord"

[ui.keymap]
"desk.approve" = "A"
"""


def test_saving_a_choice_keeps_the_rest_of_the_file_as_written(cfg):
    cfg.write_text(HAND_WRITTEN, "utf-8")
    saved = save_ui_choice("theme", "dracula", config_file=cfg, environ={})
    assert saved.ui.theme == "dracula" and saved.origin("ui.theme").kind == "file" and saved.config_file == cfg
    assert cfg.read_text() == HAND_WRITTEN.replace('theme = "nord"', 'theme = "dracula"')
    save_ui_choice("views.big", {"filter": "risk:high", "sort": "-age"}, config_file=cfg, environ={})
    save_ui_choice("keymap.desk.reject", "R", config_file=cfg, environ={})
    s = load(cfg)
    assert (s.ui.theme, s.ui.keymap, s.ui.views["big"].sort, s.busy_timeout) == \
        ("dracula", {"desk.approve": "A", "desk.reject": "R"}, "-age", 5.0)
    assert "# dark in the evening" in cfg.read_text() and "# seconds: the NAS is slow" in cfg.read_text()
    after = save_ui_choice("views.big", None, config_file=cfg, environ={})  # None removes it
    assert "big" not in load(cfg).ui.views and "big" not in after.ui.views
    assert after.origins() == load(cfg).origins()  # what it returns is what the next start reads
    assert [p.name for p in cfg.parent.iterdir() if p.name.endswith(".tmp")] == []
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600


def test_saving_creates_the_file_and_its_directory(tmp_path):
    target = tmp_path / "new" / "config.toml"
    save_ui_choice("notify", "desktop", config_file=target, environ={})
    assert target.read_text() == '[ui]\nnotify = "desktop"\n'
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700


def test_saving_goes_to_the_settings_config_file_and_says_when_the_environment_wins(cfg):
    s = load(cfg, "", HITL_UI_THEME="dracula")
    saved = save_ui_choice("theme", "nord", settings=s, environ={"HITL_UI_THEME": "dracula"})
    assert 'theme = "nord"' in cfg.read_text()
    assert saved.ui.theme == "dracula" and saved.origin("ui.theme").detail == "HITL_UI_THEME"
    mine = save_ui_choice("notify", "off", settings=s, environ={"HITL_UI_THEME": "dracula"})
    assert mine.ui.notify == "off" and mine.origin("ui.notify").kind == "file" and s.ui.notify == "bell"


def test_saving_a_bad_value_or_into_a_malformed_file_writes_nothing(cfg):
    cfg.write_text(HAND_WRITTEN, "utf-8")
    with pytest.raises(SettingsInvalid, match="ui.notify = 'loud' is not \"off\", \"bell\" or \"desktop\"; nothing"):
        save_ui_choice("notify", "loud", config_file=cfg, environ={})
    with pytest.raises(SettingsInvalid, match="is not a choice the desk saves"):
        save_ui_choice("busy_timeout", 3, config_file=cfg, environ={})
    assert cfg.read_text() == HAND_WRITTEN
    broken = HAND_WRITTEN + "notify = \n"
    cfg.write_text(broken, "utf-8")
    with pytest.raises(SettingsInvalid, match=f"Config file {cfg} is not valid TOML.* Nothing was saved.$"):
        save_ui_choice("theme", "dracula", config_file=cfg, environ={})
    settings = load(cfg, HAND_WRITTEN)
    cfg.write_text(broken, "utf-8")  # broken after the desk started: never overwritten either
    with pytest.raises(SettingsInvalid, match=f"Config file {cfg} is not valid TOML .*nothing was saved"):
        save_ui_choice("theme", "dracula", settings=settings, environ={})
    assert cfg.read_text() == broken


def test_saving_through_a_symlink_keeps_the_link(tmp_path):
    real = tmp_path / "dotfiles" / "hitl.toml"
    real.parent.mkdir()
    real.write_text(HAND_WRITTEN)
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    save_ui_choice("theme", "dracula", config_file=link, environ={})
    assert link.is_symlink() and 'theme = "dracula"' in real.read_text()


# --- passed down: the engine takes its values from the object it is given -------------------------

def test_engine_functions_take_their_values_from_the_settings_given(tmp_path, monkeypatch):
    from hitl_tui.core import keys
    from hitl_tui.core.checkpoints import signing_key_path
    from hitl_tui.core.compliance import deciders_zone, zone_from_env
    from hitl_tui.core.paths import default_db_path
    from hitl_tui.core.service import WorkflowService

    key_file = tmp_path / "db.key"
    s = Settings.load(environ={}, db_path=tmp_path / "hitl.db", db_key_file=key_file, busy_timeout=0.25,
                      signing_key_file=tmp_path / "sign.ed25519", timezone="Asia/Tokyo")
    monkeypatch.setenv("HITL_DB_KEY_FILE", str(tmp_path / "not-this.key"))  # the environment is not asked
    monkeypatch.setenv("HITL_TIMEZONE", "Europe/Berlin")
    assert default_db_path(s) == tmp_path / "hitl.db"
    created = keys.create_key(s.db_path, settings=s)
    assert created.source == "key-file" and key_file.exists() and not (tmp_path / "not-this.key").exists()
    assert keys.resolve_key(s.db_path, settings=s) == created
    assert signing_key_path("abc", s) == tmp_path / "sign.ed25519"
    assert deciders_zone(s) == ZoneInfo("Asia/Tokyo") and zone_from_env() == ZoneInfo("Europe/Berlin")
    with WorkflowService.open(s.db_path, key=created.key, create=True, settings=s) as svc:
        assert svc.settings is s
        assert svc._conn.execute("PRAGMA busy_timeout").fetchone()[0] == 250
        assert svc.signer(create=True).path == tmp_path / "sign.ed25519"
    with WorkflowService.open(s.db_path, settings=s) as svc:  # the key found through the settings
        assert svc.key_source.source == "key-file" and svc.key_source.detail == str(key_file)


def test_a_key_file_named_in_the_config_file_is_named_so_in_messages(tmp_path, monkeypatch):
    from hitl_tui.core import keys
    from hitl_tui.core.errors import KeyMissing

    cfg = tmp_path / "config.toml"
    cfg.write_text(f'db_key_file = "{tmp_path / "gone.key"}"\n')
    monkeypatch.setenv("HITL_CONFIG", str(cfg))
    with pytest.raises(KeyMissing, match=f"^db_key_file in {cfg} points at {tmp_path / 'gone.key'}, which does not"):
        keys.resolve_key(tmp_path / "hitl.db")


def test_the_model_settings_keep_their_api_and_come_from_the_llm_table(cfg):
    from hitl_tui.agents.settings import ModelSettings, load_model_settings

    s = load(cfg, '[llm]\nbase_url = "http://h:1/v1/"\nmodel = "m"\nstream = false\ntimeout = 5\n')
    got = load_model_settings(settings=s)
    assert isinstance(got, ModelSettings) and got.configured
    assert (got.base_url, got.model, got.stream, got.timeout, got.key_source) == \
        ("http://h:1/v1", "m", False, 5.0, "none")


def test_the_demo_never_touches_the_environment_and_signs_with_its_own_key(tmp_path, monkeypatch):
    from hitl_tui.demo import open_demo

    theirs = tmp_path / "users-own.ed25519"
    monkeypatch.setenv("HITL_SIGNING_KEY_FILE", str(theirs))
    monkeypatch.setenv("HITL_UI_THEME", "dracula")
    changes: list[str] = []
    environ_type = type(os.environ)
    real_set, real_del = environ_type.__setitem__, environ_type.__delitem__

    def watched_set(self, key, value):
        changes.append(f"set {key}")
        real_set(self, key, value)

    def watched_del(self, key):
        changes.append(f"del {key}")
        real_del(self, key)

    monkeypatch.setattr(environ_type, "__setitem__", watched_set)
    monkeypatch.setattr(environ_type, "__delitem__", watched_del)
    session = open_demo(tmp_path / "demo")
    try:
        assert changes == []
        assert session.service.signer(create=False).path == tmp_path / "demo" / "demo-signing.ed25519"
        assert session.settings.ui.theme == "dracula"  # the user's look carries over; their files do not
        assert session.settings.origin("signing_key_file").detail == "the demo"
    finally:
        monkeypatch.undo()
        session.close()
    assert not theirs.exists()


# --- one place reads the environment ------------------------------------------------------------

#: module -> the variables it may still read from os.environ itself, each an env-only fact
#: (core/settings.py's docstring says why each is not a setting)
ENV_ONLY_READERS = {
    "hitl_tui/core/settings.py": None,  # the settings themselves (and HITL_CONFIG)
    "hitl_tui/core/settings_save.py": None,  # is a saved choice overridden by a HITL_UI_ variable?
    "hitl_tui/core/keys.py": "HITL_DB_KEY, HITL_DB_PASSPHRASE",
    "hitl_tui/agents/settings.py": "HITL_LLM_API_KEY",
    "hitl_tui/core/crashpoints.py": "HITL_CRASH_AT",
    "hitl_tui/core/audit.py": "SSH_CONNECTION, SSH_CLIENT",
    "hitl_tui/commands/policy.py": "the seed's policy variables",
    "hitl_tui/commands/init.py": "the seed's policy variables",
    "hitl_tui/remote/systemd.py": "RUNTIME_DIRECTORY, CREDENTIALS_DIRECTORY, XDG_RUNTIME_DIR, INVOCATION_ID",
    "hitl_tui/commands/locate.py": "the seed's policy variables (ignored, listed)",
    "hitl_tui/app.py": "the seed's policy variables (warned about)",
    "hitl_tui/alerts.py": "TERM and friends", "hitl_tui/clipboard.py": "TERM, TMUX",
    "hitl_tui/pager.py": "PAGER", "hitl_tui/screens/keep_copy.py": "SSH_CONNECTION",
}


def test_no_module_reads_settings_from_the_environment_itself():
    readers = []
    for path in sorted((ROOT / "hitl_tui").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") \
                    and isinstance(node.value, ast.Name) and node.value.id == "os":
                readers.append(rel)
                break
    assert sorted(set(readers) - set(ENV_ONLY_READERS)) == []
    # what settings moved out of: nothing there reads the environment any more
    for rel in ("hitl_tui/core/paths.py", "hitl_tui/core/checkpoints.py", "hitl_tui/core/store/connection.py",
                "hitl_tui/core/store/faults.py", "hitl_tui/core/compliance.py", "hitl_tui/agents/runtime.py",
                "hitl_tui/commands/common.py", "hitl_tui/demo/__init__.py"):
        assert rel not in readers, rel


def test_the_settings_module_never_imports_the_ui():
    code = ("import sys, hitl_tui.core.settings, hitl_tui.core.settings_save\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich', 'tomlkit')))")
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"  # tomlkit too: it is imported only when a choice is saved
