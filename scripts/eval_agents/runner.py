"""Every prompt on each surface, each on a fresh copy of the prepared database, judged."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from hitl_tui.agents.settings import ModelSettings

from .checks import judge
from .outcome import Outcome
from .prepare import Prepared, prepare
from .proxy import Recorder
from .prompts import CONFIRMED, Prompt
from .report import Row, row
from .run_ask import run_ask
from .run_pane import run_pane_sync


def evaluate(prompts: list[Prompt], work: Path, base_url: str, model_name: str, *, stream: bool, context: int,
             pane: bool, timeout: float, say: Callable[[str], None], exchanges: Path | None = None) -> list[Row]:
    """Every prompt through `ask` (and the pane), judged. With `exchanges`, the model's traffic
    goes through a recording proxy into that JSON-lines file, each exchange tagged with its run."""
    recorder = Recorder(base_url, exchanges) if exchanges else None
    try:
        return _evaluate(prompts, work, recorder.base_url if recorder else base_url, model_name, stream=stream,
                         context=context, pane=pane, timeout=timeout, say=say, recorder=recorder)
    finally:
        if recorder:
            recorder.stop()


def _evaluate(prompts: list[Prompt], work: Path, base_url: str, model_name: str, *, stream: bool, context: int,
              pane: bool, timeout: float, say: Callable[[str], None], recorder: Recorder | None) -> list[Row]:
    template = prepare(work / "template")
    say(f"prepared database: {len(template.targets)} target requests, asking as {template.me}")
    model_env = {"HITL_LLM_BASE_URL": base_url, "HITL_LLM_MODEL": model_name, "HITL_LLM_STREAM": "1" if stream else "0",
                 "HITL_LLM_TIMEOUT": str(int(timeout)), "HITL_LLM_CONTEXT": str(context)}
    settings = ModelSettings(base_url, model_name, None, "none", stream=stream, timeout=timeout, context=context)
    rows: list[Row] = []
    runs = iter(range(1, 10_000))

    def fresh(tag: str = "") -> Prepared:
        if recorder:
            recorder.tag = tag
        return template.copy(work / f"run{next(runs):03d}")

    for prompt in prompts:
        rows.append(ask_row(prompt, lambda typed: fresh(f"ask line {prompt.line} {prompt.intent} {typed}"),
                            model_env, timeout))
        say(_progress(rows[-1]))
    if pane:
        for prompt in prompts:
            prep = fresh(f"pane line {prompt.line} {prompt.intent}")
            gate = run_pane_sync(prep, prompt, settings, timeout)
            rows.append(_judged(prep, gate))
            say(_progress(rows[-1]))
    return rows


def ask_row(prompt: Prompt, fresh: Callable[[str], Prepared], model_env: dict[str, str], timeout: float) -> Row:
    prep = fresh("n")
    gate = run_ask(prep, prompt, "n", model_env, timeout)
    if prompt.intent not in CONFIRMED:
        return _judged(prep, gate)
    again = fresh("y")
    confirm = run_ask(again, prompt, "y", model_env, timeout)
    with again.active(), again.open() as service:
        right, why = judge(confirm, service, again.me)
    return row(gate, right, why, confirm)


def _judged(prep: Prepared, out: Outcome) -> Row:
    with prep.active(), prep.open() as service:
        right, why = judge(out, service, prep.me)
    return row(out, right, why)


def _progress(r: Row) -> str:
    return (f"{r.surface} line {r.line} {r.intent}: {'right' if r.right else 'WRONG'} ({r.why}); "
            f"tools {r.tools}; gate {'held' if r.gate_held else 'NOT held'}; {r.latency:.1f} s")
