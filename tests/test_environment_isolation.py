"""What every test runs in (tests/keyring_session.py's autouse `isolated_environment`), checked
from inside a test, in pytest's own process and in each pytest-xdist worker alike."""

from __future__ import annotations

import os
import subprocess

SHOW = 'echo "COLUMNS=${COLUMNS-unset} LINES=${LINES-unset}"'


def test_no_terminal_size_reaches_the_commands_a_test_starts():
    # readline (imported in pytest's process) sets COLUMNS=80 LINES=24 at the C level, so a
    # command started with env=None saw them, and xdist's workers inherit them in os.environ:
    # `hitl-tui request list` then cut its rows at 80 columns instead of a pipe's 120
    for env in (None, dict(os.environ)):
        shown = subprocess.run(["sh", "-c", SHOW], env=env, capture_output=True, text=True, check=True).stdout
        assert shown.strip() == "COLUMNS=unset LINES=unset", f"env={'inherited' if env is None else 'os.environ'}"
