"""scripts/eval-agents: set up, run the prompt set, report. Exit status 0 when the evaluation
ran (whatever the score), 1 when set-up failed (one line saying why), 130 when interrupted."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

from .errors import SetupFailed
from .models import MODELS
from .prompts import BUILT_IN


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("HITL_EVAL_CACHE") or Path(base) / "hitl-tui-eval")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from .servers import SERVERS

    p = argparse.ArgumentParser(prog="scripts/eval-agents", description=__doc__)
    p.add_argument("--model", choices=sorted(MODELS), default="1.5b", help="which model (default 1.5b)")
    p.add_argument("--server", choices=SERVERS, default="llama-server", help="which server (default llama-server)")
    p.add_argument("--prompts", type=Path, default=BUILT_IN, metavar="FILE",
                   help="INTENT<TAB>PROMPT lines (default: the built-in set, scripts/eval_agents/prompts.tsv)")
    p.add_argument("--no-pane", action="store_true", help="only `hitl-tui ask`, not the desk's chat pane")
    p.add_argument("--cache", type=Path, default=None, metavar="DIR",
                   help="where the model, the server venv and builds are kept (default: $HITL_EVAL_CACHE "
                        "or ${XDG_CACHE_HOME:-$HOME/.cache}/hitl-tui-eval)")
    p.add_argument("--timeout", type=float, default=300, metavar="S", help="per prompt (default 300 s)")
    p.add_argument("--stream", choices=("0", "1"), default=None,
                   help="HITL_LLM_STREAM (default: 1 for llama-server, 0 for llama-cpp-python)")
    return p.parse_args(argv)


def say(message: str) -> None:
    print(f"eval-agents: {message}", file=sys.stderr, flush=True)


def _terminated(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt  # as ^C: the finally blocks stop the server


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)
    from .models import fetch
    from .prompts import load
    from .servers import CONTEXT, STREAM, start

    cache = (args.cache or default_cache()).expanduser().resolve()
    model = MODELS[args.model]
    stream = args.stream or STREAM[args.server]
    server = None
    try:
        prompts = load(args.prompts)
        say(f"{len(prompts)} prompts from {args.prompts}; cache {cache}")
        gguf = fetch(model, cache, say)
        server = start(args.server, gguf, f"qwen2.5-coder-{model.key}", cache, say)
    except SetupFailed as exc:
        if server:
            server.stop()
        say(str(exc))
        return 1
    except KeyboardInterrupt:
        if server:
            server.stop()
        say("interrupted during set-up")
        return 130
    try:
        from .runner import evaluate
        from .report import print_report

        exchanges = server.log.with_suffix(".exchanges.jsonl")
        with tempfile.TemporaryDirectory(prefix="hitl-eval-") as tmp:
            rows = evaluate(prompts, Path(tmp), server.base_url, server.model_name, stream=stream == "1",
                            context=CONTEXT, pane=not args.no_pane, timeout=args.timeout, say=say,
                            exchanges=exchanges)
        title = (f"{model.label} on {args.server} (HITL_LLM_STREAM={stream}), "
                 f"{len(prompts)} prompts, {'ask and pane' if not args.no_pane else 'ask only'}; "
                 f"the model's raw replies: {exchanges}")
        print_report(rows, sys.stdout, title)
        return 0
    except SetupFailed as exc:
        say(str(exc))
        return 1
    except KeyboardInterrupt:
        server.stop()
        say("interrupted; the server was stopped")
        return 130
    finally:
        server.stop()  # a second stop of a stopped server does nothing


__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
