"""One prompt through `hitl-tui ask`: the installed console script in a pseudo-terminal, so its
y/N gate is the real one. The harness types its answer ahead (`n`, or `y`), then end of input,
so a second question (a required reason, a re-authentication) gets no answer and decides nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from .outcome import Outcome, Proposed
from .prepare import Prepared, snapshot, writes_since
from .prompts import Prompt

SCRIPT = Path(sys.executable).with_name("hitl-tui")
KEEP = ("PATH", "LANG", "LC_ALL", "TERM")
_PROPOSAL = re.compile(r"^  (approve|reject|request changes on) (WF-\d+-\d+) ")
_COMMENT = re.compile(r"^  (?:Your comment|Comment suggested by \S+) \(recorded with the decision\): (.*)$")
_DRAFT_TYPE = re.compile(r"^  Type: (.*)$")
DECISIONS = {"approve": "approve", "reject": "reject", "request changes on": "request_changes"}


def run_ask(prep: Prepared, prompt: Prompt, typed: str, model_env: dict[str, str], timeout: float) -> Outcome:
    text = prompt.text(prep.targets)
    out = Outcome("ask", prompt, text, typed, targets=dict(prep.targets))
    with prep.active(), prep.open() as service:
        before = snapshot(service, prep.me)
    env = {k: os.environ[k] for k in KEEP if k in os.environ}
    env.update(prep.env(), PYTHONIOENCODING="utf-8", LANG="C.UTF-8", **model_env)
    master, slave = os.openpty()
    started = time.monotonic()
    try:
        proc = subprocess.Popen([str(SCRIPT), "--db", str(prep.db_path), "ask", text], stdin=slave,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=prep.root)
        os.close(slave)
        os.write(master, f"{typed}\n\x04".encode())  # waits in the terminal's queue until read
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
            out.failed = f"no answer within {timeout:.0f} s"
        except BaseException:  # ^C or SIGTERM: the harness is stopping, and so does this run
            proc.kill()
            proc.wait()
            raise
    finally:
        os.close(master)
    out.latency = time.monotonic() - started
    parse(out, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace"), prep.me)
    if proc.returncode and not out.failed:
        lines = [ln for ln in out.log.splitlines() if ln.strip()]
        out.failed = next((ln for ln in reversed(lines) if ln.startswith("hitl-tui:")),
                          lines[-1] if lines else f"exit status {proc.returncode}")
    with prep.active(), prep.open() as service:
        out.writes = writes_since(service, prep.me, before)
    return out


def parse(out: Outcome, stdout: str, stderr: str, me: str) -> None:
    """Fill `out` from what `hitl-tui ask` printed (formats: hitl_tui/commands/ask.py)."""
    out.log = stderr
    out.activity = [ln[4:] for ln in stderr.splitlines() if ln.startswith("  · ")]
    lines = stdout.splitlines()
    reply: list[str] = []
    in_reply = True
    # after the y/N prompt on the same line (the answer typed is echoed to the terminal, not stdout)
    confirmed = re.compile(rf"^\S.* (WF-\d+-\d+) as {re.escape(me)}; now |(?:^|\] )Created WF-\d+-\d+ requiring ")
    for i, line in enumerate(lines):
        if line.startswith(("Proposal from ", "Draft from ")):
            in_reply = False
        if in_reply:
            reply.append(line)
        found = _PROPOSAL.match(line)
        if found and i and lines[i - 1].startswith("Proposal from "):
            comment = next((c.group(1) for c in map(_COMMENT.match, lines[i + 1:i + 3]) if c), "")
            out.proposals.append(Proposed(found.group(2), DECISIONS[found.group(1)], comment))
        kind = _DRAFT_TYPE.match(line)
        if kind and i and lines[i - 1].startswith("Draft from "):
            out.drafts.append({"type_name": kind.group(1)})
        if confirmed.search(line):
            out.confirmed += 1
    out.answer = "\n".join(reply).strip()
