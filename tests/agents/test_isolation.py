"""tframex stays off the TUI's start-up path, and its logging never reaches the terminal."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from .fake_model import closed_port

START_UP_MODULES = ("hitl_tui.agents", "hitl_tui.agents.events", "hitl_tui.agents.factory",
                    "hitl_tui.agents.names", "hitl_tui.agents.settings", "hitl_tui.cli",
                    "hitl_tui.commands.ask")


def python(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    keep = ("PATH", "HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME",
            "PYTHON_KEYRING_BACKEND")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=60)


def test_importing_the_start_up_modules_does_not_import_tframex(tmp_path):
    done = python(f"""
        import importlib, sys
        for name in {START_UP_MODULES!r}:
            importlib.import_module(name)
        assert "tframex" not in sys.modules, sorted(m for m in sys.modules if m.startswith("tframex"))[:5]
        print("ok")
    """, tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "ok\n", "")


def test_tframex_logs_go_to_a_file_never_to_the_terminal(tmp_path):
    """A failing model makes tframex log warnings and errors; none may reach stdout or stderr."""
    url = f"http://127.0.0.1:{closed_port()}/v1"
    done = python(f"""
        import asyncio, os
        from hitl_tui.core.service import WorkflowService
        from hitl_tui.agents.factory import create_assistant
        from hitl_tui.agents.settings import ModelSettings

        svc = WorkflowService.open({str(tmp_path / 'x.db')!r}, key=os.urandom(32))
        svc.add_user("sarah.manager", "manager")
        assistant = create_assistant(svc, "sarah.manager", ModelSettings({url!r}, "m", stream=False, max_retries=0))

        async def main():
            events = [e async for e in assistant.ask("hello")]
            await assistant.aclose()
            return events

        events = asyncio.run(main())
        svc.close(checkpoint=False)
        assert type(events[0]).__name__ == "TurnFailed", events
    """, tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    log = Path(os.environ["XDG_STATE_HOME"]) / "hitl-tui" / "log" / "agents.log"
    text = log.read_text()
    assert "tframex.hitl.model" in text and f"Cannot reach the model server at {url}" in text
