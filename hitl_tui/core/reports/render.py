"""HTML and Markdown renderings of the report blocks (layout.py).

HTML is self-contained: inline CSS, no scripts, no external assets, and a Content-Security-Policy
that forbids scripts anyway. Every piece of text is HTML-escaped, so a title such as
`<script>alert(1)</script>` is shown, never run. The machine-readable evidence sits in a
`<script type="application/json">` data block (never executed) whose JSON has <, > and &
escaped, so no string inside it can close the block.

Markdown escapes its own syntax characters and HTML's (<, >, &), because many Markdown renderers
pass raw HTML through.

Both show characters a terminal would interpret (ESC, BEL, C1, bidi overrides: text.neutralise)
as visible escapes (\\x1b), so `cat` or `grep` of a report is as safe as opening it.
"""

from __future__ import annotations

import html
import json
import re
from typing import TYPE_CHECKING, Any, BinaryIO

from ..text import neutralise
from .layout import Block, blocks
from .report import Report, build_report

if TYPE_CHECKING:
    from .export import ExportJob

EVIDENCE_ID = "hitl-audit-evidence"
MD_EVIDENCE_MARK = "<!-- hitl-audit-evidence -->"

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:78em;padding:0 1em;color:#1a1a1a}
h1{margin-top:.4em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
h3{margin-bottom:.2em;font-size:1.05em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f2f2f2}td{overflow-wrap:anywhere}
.banner{padding:.8em 1em;font-weight:bold;border-radius:4px;margin:.5em 0}
.ok{background:#e6f4ea;border:1px solid #34a853}.broken{background:#fce8e6;border:2px solid #d93025;color:#a50e0e;font-size:1.2em}
.note{background:#fff8e1;border:1px solid #f9a825;padding:.5em 1em}
nav a{margin-right:1em}code{background:#f2f2f2;padding:0 .2em}
"""


def _json_for_html(data: Any) -> str:
    text = json.dumps(data, ensure_ascii=True, sort_keys=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _e(text: str) -> str:
    return html.escape(neutralise(text, keep="\n\t"), quote=True)


def _html_block(b: Block) -> str:
    if b.kind == "banner":
        return f'<div class="banner {"ok" if b.ok else "broken"}" role="alert">{_e(b.text)}</div>\n'
    if b.kind in ("h1", "h2", "h3"):
        anchor = f' id="{_e(b.anchor)}"' if b.anchor else ""
        return f"<{b.kind}{anchor}>{_e(b.text)}</{b.kind}>\n"
    if b.kind == "note":
        return f'<p class="note">{_e(b.text)}</p>\n'
    if b.kind == "table":
        head = "".join(f"<th>{_e(c)}</th>" for c in b.columns)
        body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>\n" for row in b.rows)
        if not b.rows:
            body = f'<tr><td colspan="{len(b.columns)}">none</td></tr>\n'
        return f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table>\n"
    return f"<p>{_e(b.text)}</p>\n"


def write_html(job: "ExportJob") -> dict[str, Any]:
    report = build_report(job)
    out: BinaryIO = job.out
    out.write(("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
               "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
               f"<title>hitl-tui audit report {_e(report.header['generated_at'])}</title>\n"
               f"<style>{_CSS}</style></head><body>\n").encode())
    nav = " ".join(f'<a href="#{a}">{label}</a>' for a, label in (
        ("summary", "Summary"), ("approvals", "Outcomes"), ("risk", "Risk"), ("times", "Decision times"),
        ("activity", "Activity"), ("flags", "Flags"), ("analytics", "Analytics"), ("timelines", "Timelines"),
        ("integrity", "Integrity")))
    first = True
    for block in blocks(report):
        if block.anchor == "timelines":  # the analytics' SVG charts (HTML only), before the timelines
            from .charts import export_section

            out.write(export_section(job).encode("utf-8"))
        out.write(_html_block(block).encode("utf-8"))
        if first:
            out.write(f"<nav>{nav}</nav>\n".encode())
            first = False
    out.write((f'<script type="application/json" id="{EVIDENCE_ID}">{_json_for_html(report.evidence())}'
               "</script>\n</body></html>\n").encode("utf-8"))
    return report.trailer


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_MD_LINE_START = re.compile(r"^(#|>|[+=-]|\d+[.)])")


def _m(text: str, *, cell: bool = False) -> str:
    """Plain text for Markdown: one line, HTML-escaped, inline syntax escaped, and (outside
    table cells) a leading character that would start a heading, quote or list escaped too."""
    text = " ".join(neutralise(str(text), keep="\n\t\r").split())
    text = _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))
    return text if cell else _MD_LINE_START.sub(r"\\\1", text)


def _md_block(b: Block) -> str:
    if b.kind == "banner":
        return f"> **{_m(b.text)}**\n\n" if b.ok else f"> ## ⚠ {_m(b.text)}\n\n"
    if b.kind in ("h1", "h2", "h3"):
        return f"{'#' * int(b.kind[1])} {_m(b.text)}\n\n"
    if b.kind == "note":
        return f"> {_m(b.text)}\n\n"
    if b.kind == "table":
        if not b.rows:
            return "_none_\n\n"
        lines = ["| " + " | ".join(_m(c, cell=True) for c in b.columns) + " |", "|" + "---|" * len(b.columns)]
        lines += ["| " + " | ".join(_m(c, cell=True) for c in row) + " |" for row in b.rows]
        return "\n".join(lines) + "\n\n"
    return f"{_m(b.text)}\n\n"


def write_markdown(job: "ExportJob") -> dict[str, Any]:
    report = build_report(job)
    out: BinaryIO = job.out
    for block in blocks(report):
        out.write(_md_block(block).encode("utf-8"))
    # The fence cannot be closed early (one line, no backtick) and holds no raw markup at all,
    # for renderers that would pass HTML through even there.
    data = _json_for_html(report.evidence()).replace("`", "\\u0060")
    out.write(("## Machine-readable evidence\n\n" + MD_EVIDENCE_MARK + "\n\n```json\n" + data + "\n```\n").encode())
    return report.trailer


__all__ = ["write_html", "write_markdown", "EVIDENCE_ID", "MD_EVIDENCE_MARK", "Report"]
