"""The README's screenshots and scripts/screenshots cannot drift apart: the README's "What it
looks like" section shows exactly the script's SHOTS, in order, with their alt text, and each
file in assets/ is a Textual (Rich) SVG export of the size the script renders it at."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")


def shots():
    spec = importlib.util.spec_from_file_location("readme_screenshots", ROOT / "scripts" / "screenshots.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)  # stdlib imports only: hitl_tui is imported when a picture is taken
    return module.SHOTS


def section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def svg_size(svg: str) -> tuple[int, int]:
    """Columns and rows of a Rich terminal SVG: 12.2 px a cell plus an 18 px frame across, and
    one clip path per line but the last."""
    width = float(re.search(r'viewBox="0 0 ([\d.]+) [\d.]+"', svg).group(1))
    lines = [int(n) for n in re.findall(r'id="terminal-\w+-line-(\d+)"', svg)]
    return round((width - 18) / 12.2), max(lines) + 2


def test_the_readme_shows_exactly_the_scripts_screenshots():
    text = (ROOT / "README.md").read_text()
    shown = IMAGE.findall(section(text, "What it looks like"))
    assert shown == [(s.what, f"assets/{s.file}") for s in shots()]
    assert [p for _, p in IMAGE.findall(text) if p.startswith("assets/") and p.endswith(".svg")] == \
        [p for _, p in shown], "every screenshot the README shows is in its 'What it looks like' section"
    assert "./scripts/screenshots" in section(text, "What it looks like")


def test_each_screenshot_is_a_textual_svg_of_its_size():
    for shot in shots():
        path = ROOT / "assets" / shot.file
        assert path.is_file(), f"{path} is missing: run ./scripts/screenshots"
        svg = path.read_text()
        assert svg.startswith('<svg class="rich-terminal"'), f"{shot.file} is not a Textual screenshot"
        assert svg_size(svg) == shot.size, f"{shot.file} is {svg_size(svg)}, the script makes it {shot.size}"


def test_the_script_runs_from_a_fresh_clone():
    script = ROOT / "scripts" / "screenshots"
    assert os.access(script, os.X_OK)
    body = script.read_text()
    assert "ensure_venv" in body and "scripts/screenshots.py" in body
