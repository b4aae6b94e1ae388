"""The settings as a user meets them: through the installed `hitl-tui` console script.

A config file really is a source (the database, its key file, the time zone come from it), a bad
file or value is one line and exit status 1 before anything is opened (the desk too), a secret in
the file is refused, and `locate` says where the file is and where every value came from.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time

import pytest

from .conftest import SCRIPT, Cli


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.toml"

    def write(text: str) -> dict[str, str]:
        path.write_text(text, "utf-8")
        return {"HITL_CONFIG": str(path)}

    write.path = path
    return write


def test_the_database_and_its_key_file_can_come_from_the_config_file(ready: Cli, config):
    env = config(f'db_path = "{ready.db}"\ndb_key_file = "{ready.key_file}"\n')
    env.update(HITL_DB_PATH=None, HITL_DB_KEY_FILE=None)  # only the file names them
    assert "sarah.manager" in ready.ok("users", "list", env=env).stdout
    info = ready.json("locate", "--json", env=env)
    assert info["database"] == str(ready.db) and info["key_source"] == "key-file"
    assert info["settings"]["db_path"] == {"value": str(ready.db), "from": "file", "where": str(config.path)}
    assert info["settings"]["db_key_file"]["from"] == "file"
    # the environment wins over the file, --db over both
    other = ready.root / "elsewhere.db"
    line = ready.refused("users", "list", env={**env, "HITL_DB_PATH": str(other)}).stderr
    assert f"No database at {other} (from HITL_DB_PATH)" in line
    line = ready.refused("--db", str(other), "users", "list", env=env).stderr
    assert f"No database at {other};" in line


def test_a_missing_database_named_in_the_config_file_says_so(cli: Cli, config):
    gone = cli.root / "gone.db"
    env = {**config(f'db_path = "{gone}"\n'), "HITL_DB_PATH": None}
    line = cli.refused("users", "list", env=env).stderr
    assert f"No database at {gone} (from db_path in {config.path}); create one there with `hitl-tui init`" in line


@pytest.mark.parametrize("args", [("users", "list"), ("locate",), ()])
def test_a_malformed_config_file_is_one_line_before_anything_opens(ready: Cli, config, args):
    env = config('[ui]\ntheme = "nord"\nnotify = \n')
    line = ready.refused(*args, env=env).stderr.strip()
    assert line.startswith(f"hitl-tui: Config file {config.path} is not valid TOML: ") and "line 3" in line


def test_a_bad_value_names_the_file_key_and_what_is_allowed(ready: Cli, config):
    env = config('[ui]\nnotify = "loud"\n')
    assert ready.refused("users", "list", env=env).stderr.strip() == (
        f'hitl-tui: Config file {config.path}: ui.notify = "loud" is not "off", "bell" or "desktop".')
    line = ready.refused("request", "list", env={"HITL_TIMEZONE": "Mars/Olympus"}).stderr.strip()
    assert line == ("hitl-tui: HITL_TIMEZONE='Mars/Olympus' is not a known time zone (an IANA name such as "
                    "Europe/Berlin).")


def test_a_secret_in_the_config_file_is_refused(ready: Cli, config):
    env = config(f'db_key = "{ready.key.hex()}"\n')
    line = ready.refused("users", "list", env=env).stderr.strip()
    assert line.startswith(f"hitl-tui: Config file {config.path}: db_key is a secret, and secrets are never read "
                           f"from a config file") and "HITL_DB_KEY" in line
    assert ready.key.hex() not in line


def test_locate_shows_the_config_file_and_where_each_value_came_from(ready: Cli, config):
    env = config('busy_timeout = 5\n[ui]\ntheme = "nord"\n[ui.keymap]\n"desk.approve" = "A"\n')
    text = ready.ok("locate", env={**env, "HITL_UI_NOTIFY": "off"}).stdout
    assert f"Config file:       {config.path} (named by HITL_CONFIG)" in text
    rows = {line.split()[0]: line for line in text.splitlines() if line.startswith("  ")}
    assert rows["busy_timeout"].split()[1:] == ["5", "config", "file"]
    assert rows["ui.theme"].split()[1:] == ["nord", "config", "file"]
    assert rows['ui.keymap["desk.approve"]'].split()[1:] == ["A", "config", "file"]
    assert rows["ui.notify"].split()[1:] == ["off", "environment", "(HITL_UI_NOTIFY)"]
    assert rows["db_path"].split()[2:] == ["environment", "(HITL_DB_PATH)"]
    assert rows["timezone"].split()[1:] == ["-", "default"]
    assert "--db" in ready.ok("--db", str(ready.db), "locate").stdout.split("db_path", 1)[1].splitlines()[0]


def test_locate_says_when_there_is_no_config_file(cli: Cli):
    info = json.loads(cli.ok("locate", "--json").stdout)
    assert info["config_file"].endswith("/hitl-tui/config.toml") and info["config_file_exists"] is False
    assert info["config_file_named_by"] == "default"
    assert "(does not exist: the defaults apply)" in cli.ok("locate").stdout


def test_debug_is_a_setting_like_the_others(ready: Cli, config):
    env = config("debug = true\n")
    info = ready.json("locate", "--json", env=env)
    assert info["settings"]["debug"] == {"value": True, "from": "file", "where": str(config.path)}
    line = ready.refused("users", "list", env={**env, "HITL_DEBUG": "perhaps"}).stderr.strip()
    assert line == "hitl-tui: HITL_DEBUG='perhaps' is not true or false (1/0, yes/no, on/off)."


def _in_a_pty(argv: list[str], env: dict[str, str], timeout: float = 30) -> tuple[int, str]:
    """Run `argv` with a real terminal on stdin/stdout/stderr; (exit status, all it wrote)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    out, deadline = b"", time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not data:
                    break
                out += data
            elif proc.poll() is not None:
                break
        return proc.wait(timeout=5), out.decode("utf-8", "replace")
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)


@pytest.mark.parametrize("text, expected", [
    ('[ui]\ntheme = "nordd"\n', 'ui.theme = "nordd" is not a theme (did you mean \'nord\'?'),
    ('[ui.keymap]\n"desk.aprove" = "A"\n', "'desk.aprove' is not a binding id (did you mean 'desk.approve'?"),
])
def test_the_desk_refuses_a_name_it_does_not_know_before_taking_the_terminal(ready: Cli, config, text, expected):
    env = {**os.environ, **ready.env, **config(text), "TERM": "xterm-256color"}
    for args in ([], ["--demo"]):
        code, out = _in_a_pty([str(SCRIPT), *args], env)
        assert code == 1, out
        assert f"hitl-tui: Config file {config.path}: " in out and expected in out, out
        assert "\x1b[?1049h" not in out and "Traceback" not in out  # the screen was never taken


def test_the_desk_and_its_service_are_given_the_same_settings(ready: Cli, config, monkeypatch):
    from hitl_tui.launch import build_app

    monkeypatch.setenv("HITL_CONFIG", str(config.path))
    monkeypatch.setenv("HITL_DB_KEY_FILE", str(ready.key_file))
    config('[ui]\ntheme = "nord"\nnotify = "off"\n')
    app, message = build_app(ready.db, poll_interval=None)
    assert message is None
    try:
        assert app.settings is app.service.settings  # built once, passed down
        assert (app.settings.ui.theme, app.settings.ui.notify) == ("nord", "off")
        assert app.settings.origin("db_path").detail == "--db"
    finally:
        app.service.close(checkpoint=False)


def test_the_readme_example_config_passes_the_desks_own_checks(tmp_path):
    """The example in the README loads, and its theme, bindings and sort columns are names the
    desk knows (ui_settings.check: what `hitl-tui` checks before it takes the terminal)."""
    import re
    from pathlib import Path

    from hitl_tui.core.settings import Settings
    from hitl_tui.ui_settings import check

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    example = re.search(r"```toml\n(.*?)```", readme.split("## Settings and the config file", 1)[1], re.S).group(1)
    path = tmp_path / "config.toml"
    path.write_text(example, "utf-8")
    settings = Settings.load(environ={"HITL_CONFIG": str(path)})
    check(settings)
    assert settings.ui.views["stale"].sort == "created" and settings.ui.keymap["desk.approve"] == "A"
