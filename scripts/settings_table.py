"""The README's table of settings, made from the Settings model's field docstrings.

    python scripts/settings_table.py           # rewrite the table in README.md
    python scripts/settings_table.py --check   # exit 1 when README.md's table is not this one

The table sits between the two marker lines below in README.md; tests/core/test_settings.py runs
the check, so a setting added, renamed or redocumented without the README fails the tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BEGIN = "<!-- settings table: made by scripts/settings_table.py from core/settings.py -->"
END = "<!-- end of settings table -->"

sys.path.insert(0, str(ROOT))


def _default(value) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{'true' if value else 'false'}`"
    if isinstance(value, dict):
        return "none"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f'`"{value}"`' if isinstance(value, str) else f"`{value}`"


def table() -> str:
    from hitl_tui.core.settings import env_var, field_docs, fields

    docs = field_docs()
    rows = ["| Setting | Environment | Default | What it does |", "|---|---|---|---|"]
    for key, info, default in fields():
        section, _, name = key.rpartition(".")
        shown = f"`{name}` under `[{section}]`" if section else f"`{key}`"
        text = docs[key].replace("|", "\\|")
        allowed = (info.json_schema_extra or {}).get("allowed", "")
        rows.append(f"| {shown} | `{env_var(key)}` | {_default(default)} | {text} Allowed: {allowed}. |")
    return "\n".join(rows)


def rewritten(readme: str) -> str:
    if BEGIN not in readme or END not in readme:
        raise SystemExit(f"README.md has no settings table markers ({BEGIN!r} ... {END!r})")
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    text = README.read_text("utf-8")
    new = rewritten(text)
    if "--check" in argv:
        if new != text:
            print("README.md's settings table is stale: run python scripts/settings_table.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(new, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
