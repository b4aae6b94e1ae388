"""hitl_tui.core never imports the user interface, not even through a deferred import."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import hitl_tui.core


def core_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(hitl_tui.core.__path__, "hitl_tui.core."))


def test_core_modules_import_without_textual_or_rich():
    modules = core_modules()
    assert "hitl_tui.core.service" in modules and "hitl_tui.core.store.connection" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich', 'tframex')\n"
        "             or m.startswith(('hitl_tui.app', 'hitl_tui.screens', 'hitl_tui.widgets', 'hitl_tui.agents')))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_a_full_workflow_in_core_loads_no_ui(tmp_path):
    code = (
        "import os, sys\n"
        "from hitl_tui.core import WorkflowService\n"
        f"s = WorkflowService.open({str(tmp_path / 'x.db')!r}, key=os.urandom(32))\n"
        "s.add_user('a', 'employee'); s.add_user('m', 'manager')\n"
        "w = s.create_workflow_request('expense_approval', 't', '', 'a', {'amount': 5})\n"
        "s.approve_workflow(w, 'm'); s.verify_audit(); s.close()\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
