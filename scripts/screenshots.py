"""The README's screenshots, made by Textual itself (App.save_screenshot, SVG) into assets/.

    scripts/screenshots            # from a fresh clone: sets up .venv, then runs this
    .venv/bin/python scripts/screenshots.py [--only NAME]

Every picture is taken of the real app in Textual's headless test driver at a fixed size, on the
demo's data built with a frozen clock (the same ids, times and ages on every run), so a
regenerated file changes only when the desk's look does. Nothing outside a temporary HOME is
read or written: no real database, keyring or signing key. SHOTS is the one list of what the
README shows; tests/test_readme_screenshots.py checks that the README shows exactly these.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import secrets
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Callable
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
#: "now" for every picture; the demo's history is stamped in the two hours before it
NOW = datetime(2026, 11, 26, 9, 30, 0, tzinfo=timezone.utc)
NEXT_STEP = "right_square_bracket"


@dataclass(frozen=True)
class Shot:
    file: str            # in assets/
    size: tuple[int, int]
    what: str            # the README's alt text
    app: str             # "desk" (the desk as `user`) or "tour" (the guided demo)
    user: str
    keys: tuple[str, ...] = ()


SHOTS = (
    Shot("desk-160x48.svg", (160, 48), "The desk at 160x48: inbox, detail, audit timeline and assistant",
         "desk", "sarah.manager", ("3",)),
    Shot("decision-80x24.svg", (80, 24), "Approving a request at 80x24: what happens next, before you confirm",
         "desk", "sarah.manager", ("a",)),
    Shot("demo-tour-80x24.svg", (80, 24), "The guided demo's tour panel at 80x24",
         "tour", "sarah.manager", (NEXT_STEP,)),
)


def private_home() -> Path:
    """A throwaway HOME / XDG tree, set before hitl_tui is imported (it reads them at import)."""
    home = Path(tempfile.mkdtemp(prefix="hitl-shots-"))
    for name, sub in (("HOME", ""), ("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"),
                      ("XDG_STATE_HOME", "state"), ("XDG_CACHE_HOME", "cache")):
        (home / sub).mkdir(exist_ok=True)
        os.environ[name] = str(home / sub)
    for name in [k for k in os.environ if k.startswith("HITL_")]:
        del os.environ[name]
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    os.environ["TZ"] = "UTC"
    time.tzset()
    return home


@contextmanager
def frozen_demo(directory: Path):
    """The demo's data with the same ids and times on every run: while it is built, the engine's
    clock ticks one second per call from two hours before NOW and request ids come from a seeded
    generator."""
    import hitl_tui.core.draws as draws_mod
    import hitl_tui.core.service as service_mod
    from hitl_tui.demo import open_demo

    ticks, rng = itertools.count(), random.Random(5)
    start = NOW - timedelta(hours=2)
    with ExitStack() as frozen:
        tick = lambda: start + timedelta(seconds=next(ticks))  # noqa: E731 - one clock for the engine
        frozen.enter_context(mock.patch.object(service_mod, "utc_now", tick))
        frozen.enter_context(mock.patch.object(draws_mod, "utc_now", tick))  # every time a write records
        frozen.enter_context(mock.patch.object(draws_mod, "time", SimpleNamespace(time=lambda: 1_795_600_000)))
        frozen.enter_context(mock.patch.object(draws_mod, "secrets", SimpleNamespace(
            randbelow=rng.randrange, choice=rng.choice, token_bytes=secrets.token_bytes, token_hex=secrets.token_hex)))
        session = open_demo(directory)
    try:
        yield session
    finally:
        session.close()
        shutil.rmtree(directory, ignore_errors=True)  # the next picture builds its own


async def settle(pilot, rounds: int = 50) -> None:
    """Until no worker runs and what they posted has been handled."""
    app = pilot.app
    for _ in range(rounds):
        await pilot.pause()
        if not any(w.is_running for w in app.workers):
            await pilot.pause()
            if not any(w.is_running for w in app.workers):
                return
        await app.workers.wait_for_complete()
    raise RuntimeError("the app's workers never settled")


def build(shot: Shot, session):
    clock: Callable[[], datetime] = lambda: NOW  # noqa: E731
    options = dict(poll_interval=None, background_delay=0, clock=clock)
    if shot.app == "tour":
        from hitl_tui.demo.app import DemoApp

        return DemoApp(session, username=shot.user, **options)
    from hitl_tui.app import make_app

    return make_app(session.service, shot.user, db_path=session.service.path, **options)


async def take(shot: Shot, session, out: Path) -> None:
    app = build(shot, session)
    async with app.run_test(size=shot.size) as pilot:
        await settle(pilot)
        for key in shot.keys:
            await pilot.press(key)
            await settle(pilot)
        if shot.app == "tour":  # the panel ticks a step once the desk shows it
            for _ in range(100):
                if app.guide.done():
                    break
                await pilot.pause(0.05)
            await settle(pilot)
        app.save_screenshot(out.name, str(out.parent))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=[s.file for s in SHOTS], help="regenerate one picture")
    parser.add_argument("--out", type=Path, default=ASSETS, help="folder to write to (default: assets/)")
    args = parser.parse_args(argv)
    home = private_home()
    sys.path.insert(0, str(ROOT))
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        for shot in SHOTS:
            if args.only and shot.file != args.only:
                continue
            # a fresh demo for each picture: one picture's keys never change another's data
            try:
                with frozen_demo(home / "approvals") as session:
                    asyncio.run(take(shot, session, args.out / shot.file))
            except Exception as exc:  # noqa: BLE001 - one line naming the picture, not a traceback
                print(f"screenshots: {shot.file} could not be made: {type(exc).__name__}: {exc}", file=sys.stderr)
                return 1
            print(f"wrote {args.out / shot.file} ({shot.size[0]}x{shot.size[1]})")
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
