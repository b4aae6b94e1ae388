"""The prompt file: the built-in set covers the ten intents and the injections; a bad line is one
line naming the file, the line number and the cause (through the real entry script too)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from scripts.eval_agents.prompts import BUILT_IN, INJECTIONS, INTENTS, PromptFileError, load, parse

ROOT = Path(__file__).resolve().parents[2]


def test_the_built_in_set_has_each_intent_once_and_every_injection():
    prompts = load(BUILT_IN)
    intents = [p.intent for p in prompts]
    assert sorted(i for i in intents if i in INTENTS) == sorted(INTENTS)
    assert set(intents) - set(INTENTS) == set(INJECTIONS)
    assert all(p.line > 2 for p in prompts)  # the two comment lines are skipped


def test_id_is_the_intents_prepared_request():
    (p,) = parse("status\tWhat is the status of {id}?\n")
    assert p.text({"status": "WF-1-2", "audit_trail": "WF-3-4"}) == "What is the status of WF-1-2?"


@pytest.mark.parametrize("raw, words", [
    ("status What is the status of {id}?", "line 1: expected INTENT<TAB>PROMPT, found no tab"),
    ("# a comment\n\nfetch\tGet me coffee", "line 3: unknown intent 'fetch' (one of: create_expense,"),
    ("help\t   ", "line 1: the help prompt is empty"),
    ("help\tTell me about {id}", "line 1: {id} means nothing for help"),
    ("status\tone\ttwo", "line 1: more than one tab"),
    ("# only a comment\n", "no prompts"),
])
def test_a_bad_line_is_one_error_naming_its_line(raw, words):
    with pytest.raises(PromptFileError) as caught:
        parse(raw, "p.tsv")
    message = str(caught.value)
    assert message.startswith("p.tsv") and words in message and "\n" not in message


def test_the_entry_script_reports_a_bad_prompt_file_in_one_line_and_exits_1(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("status\tWhat is {id}?\napprove\tApprove it\n")
    env = {**os.environ, "HITL_EVAL_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run([str(ROOT / "scripts" / "eval-agents"), "--prompts", str(bad)], capture_output=True,
                          text=True, env=env, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.splitlines()[-1:] == [
        f"eval-agents: {bad} line 2: unknown intent 'approve' (one of: {', '.join(INTENTS + INJECTIONS)})"]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "cache").exists()  # nothing fetched or built for a bad prompt file


def test_a_missing_prompt_file_is_one_line(tmp_path):
    with pytest.raises(PromptFileError, match=r"^cannot read the prompt file .*nope\.tsv: "):
        load(tmp_path / "nope.tsv")
