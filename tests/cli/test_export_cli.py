"""export-audit: every format parsed back and checked against the database; filters; a tampered
database flagged loudly; a tampered export caught by verify-audit --checkpoint."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter
from html.parser import HTMLParser

import pytest

from hitl_tui.core.reports.tabular import csv_uncell

from .conftest import ME, seq_of, tamper_body

HOSTILE = "<script>alert('x')</script> <img src=x onerror=alert(1)> | *bold* `tick`"
SEALED_PREFIX = b"hitl-tui sealed value v1\n"  # docs/VERIFY.md section 10


def opened(details, personal: dict) -> object:
    """`details` as a person reads them: each sealed value {"key", "sealed"} replaced by the value
    its opening gives, once the opening is checked to hash to the digest the entry holds."""
    if isinstance(details, dict) and set(details) == {"key", "sealed"}:
        opening = personal[details["sealed"]]
        value = json.dumps(opening["value"], sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        assert hashlib.sha256(SEALED_PREFIX + bytes.fromhex(opening["salt"]) + value).hexdigest() == details["sealed"]
        return opening["value"]
    if isinstance(details, dict):
        return {k: opened(v, personal) for k, v in details.items()}
    if isinstance(details, list):
        return [opened(v, personal) for v in details]
    return details


def history(cli) -> dict[str, str]:
    """Requests in every state, decided through the engine by the seed's cast."""
    ids = {}
    with cli.service() as s:
        ids["travel"] = s.create_workflow_request("expense_approval", "Executive travel to Singapore",
                                                  "Strategy week with the APAC team", "john.doe",
                                                  {"amount": "15000", "category": "travel"})
        for who in ("sarah.manager", "mike.director", "lisa.executive"):
            s.approve_workflow(ids["travel"], who, f"ok from {who}")
        ids["hostile"] = s.create_workflow_request("expense_approval", HOSTILE, "desc <b>bold</b>", "john.doe",
                                                   {"amount": "500", "category": "meals"})
        s.reject_workflow(ids["hostile"], "sarah.manager", "=cmd|' /C calc'!A0 is not a receipt")
        ids["migration"] = s.create_workflow_request("infrastructure_change", "Database migration",
                                                     "Orders DB to PG 16", "john.doe", {"impact": "high"})
        s.approve_workflow(ids["migration"], "ian.itadmin", "Runbook reviewed")
        ids["contract"] = s.create_workflow_request("contract_approval", "Managed SOC", "Two-year SOC contract",
                                                    "sam.security", {"contract_value": "240000"})
        s.request_changes(ids["contract"], "sarah.manager", "Attach the DPA")
        ids["offsite"] = s.create_workflow_request("expense_approval", "Team offsite", "Planning day", "ian.itadmin",
                                                   {"amount": "3000"})
        s.withdraw_workflow(ids["offsite"], "ian.itadmin", "Cancelled")
    return ids


def db_entries(cli) -> list:
    with cli.service() as s:
        return list(s.iter_audit())


def export(cli, fmt: str, tmp_path, *args: str, code: int = 0):
    path = tmp_path / f"export.{fmt}"
    result = cli("export-audit", "--format", fmt, "-o", str(path), *args)
    assert result.exit_code == code, result.output
    return path, result


def test_jsonl_matches_the_database(ready, tmp_path):
    history(ready)
    path, result = export(ready, "jsonl", tmp_path)
    lines = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    header, entries, trailer = lines[0], lines[1:-1], lines[-1]
    db = db_entries(ready)  # read after the export: it signed (and recorded) its checkpoint
    assert header["chain_status"] == "intact" and header["checkpoint"]["size"] == len(db) == header["stop_seq"]
    assert header["checkpoint"]["head_hash"] == db[-1].hash and header["checkpoint"]["fingerprint"] in result.stderr
    assert len(entries) == len(db) == trailer["entries_exported"]
    for line, entry in zip(entries, db):
        expected = entry.model_dump(mode="json")
        expected["ts"] = expected.pop("timestamp").replace("Z", "+00:00")
        if expected["sig"] is None:
            expected.pop("sig")  # an unsigned entry's record has no "sig" member
        # the record holds the sealed form; its "personal" member opens it to what the database reads
        line = {**line, "details": opened(line["details"], line.get("personal", {}))}
        assert {k: line[k] for k in expected} == expected | {"ts": line["ts"]}
        assert line["ts"] == entry.timestamp.isoformat(timespec="microseconds")
    created = next(e for e in entries if e["action"] == "created")
    assert set(created["details"]["title"]) == {"key", "sealed"} and len(created["personal"]) >= 2
    assert all("personal" not in e for e in entries if e["action"] == "key_rotated")
    assert "Exported" in result.stderr and path.stat().st_mode & 0o077 == 0


def test_csv_matches_the_database_and_guards_formulas(cli, tmp_path):
    # a directory bootstrapped by someone whose recorded name starts with "=": a formula in Excel
    import os
    from hitl_tui.core.service import WorkflowService

    cli.key_file.write_text(os.urandom(32).hex())
    cli.key_file.chmod(0o600)
    with WorkflowService.open(cli.db, key=cli.key, create=True) as s:
        s.add_user(ME, "compliance", admin=True, actor="=HYPERLINK(1)")
        s.add_user("john.doe", "employee", actor=ME)
        s.add_user("sarah.manager", "manager", actor=ME)
        wid = s.create_workflow_request("expense_approval", "=1+1", "desc", "john.doe", {"amount": "5"})
        s.reject_workflow(wid, "sarah.manager", "-2+3")
    path, _ = export(cli, "csv", tmp_path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][0] == "record_type" and rows[1][0] == "hitl_export_header" and rows[-1][0] == "hitl_export_trailer"
    for row in rows:
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row), row
    entries = [dict(zip(rows[0], r)) for r in rows[2:-1]]
    db = db_entries(cli)
    assert [int(e["seq"]) for e in entries] == [e.seq for e in db]
    assert entries[0]["actor"] == "'=HYPERLINK(1)" and csv_uncell(entries[0]["actor"]) == db[0].actor
    for row, entry in zip(entries, db):
        assert (row["action"], row["hash"], csv_uncell(row["actor"])) == (entry.action, entry.hash, entry.actor)
        personal = json.loads(csv_uncell(row["personal"])) if row["personal"] else {}
        shown = json.loads(json.dumps(entry.details, default=str))
        assert opened(json.loads(row["body"])["details"], personal) == shown  # the body holds the sealed form
        assert json.loads(csv_uncell(row["details"])) == shown  # the readable column, the opened one
    rejected = next(r for r in entries if r["action"] == "rejected")
    assert "-2+3" in rejected["personal"] and "-2+3" not in rejected["body"]
    assert "verified" in cli.ok("verify-audit", "--checkpoint", str(path)).stdout


class Doc(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def test_html_report_is_self_contained_escaped_and_right(ready, tmp_path):
    ids = history(ready)
    path, _ = export(ready, "html", tmp_path)
    html = path.read_text("utf-8")
    doc = Doc()
    doc.feed(html)
    tags = Counter(t for t, _ in doc.tags)
    assert tags["script"] == 1 and tags["img"] == 0 and tags["link"] == 0
    script = next(a for t, a in doc.tags if t == "script")
    assert script == {"type": "application/json", "id": "hitl-audit-evidence"}
    links = [v for _, a in doc.tags for k, v in a.items() if k in ("src", "href", "action", "data")]
    assert links and all(v.startswith("#") for v in links)  # no external assets at all
    text = "\n".join(doc.text)
    assert f"{ids['hostile']}: {HOSTILE}" in text  # shown literally, as text
    assert "<script>alert" not in html and "<img src=x" not in html
    first = next(a for t, a in doc.tags if t == "div")
    assert first["class"] == "banner ok"
    with ready.service() as s:
        cps = s.stored_checkpoints()
        states = Counter(s.get_workflow(w).status.value for w in ids.values())
        risks = Counter(s.get_workflow(w).risk_level.value for w in ids.values())
    assert cps[-1].head_hash in text and cps[-1].fingerprint in text
    for wid in ids.values():
        assert f"{wid}: " in text
    evidence = json.loads(next(d for d in doc.text if d.startswith('{"header"')))
    assert evidence["header"]["database_id"] and evidence["trailer"]["entries_exported"] == cps[-1].size
    summary = _table_after(html, "Summary")
    assert summary["Approved / rejected / withdrawn"] == f"{states['approved']} / {states['rejected']} / {states['withdrawn']}"
    assert summary["Still open (awaiting approval / changes requested)"] == \
        f"{states['awaiting_approval']} / {states['changes_requested']}"
    assert summary["Requests touched"] == str(len(ids))
    risk_rows = _rows_after(html, "Risk distribution")
    total = dict(zip(risk_rows[0], next(r for r in risk_rows if r[0] == "All types")))
    assert {lv: int(total[lv]) for lv in ("LOW", "MEDIUM", "HIGH", "CRITICAL")} == \
        {lv: risks[lv] for lv in ("LOW", "MEDIUM", "HIGH", "CRITICAL")}
    assert "verified" in ready.ok("verify-audit", "--checkpoint", str(path)).stdout


def _rows_after(html: str, heading: str) -> list[list[str]]:
    doc = _CellParser()
    doc.feed(html[html.index(f">{heading}</h2>"):])
    return doc.rows


def _table_after(html: str, heading: str) -> dict[str, str]:
    return {r[0]: r[1] for r in _rows_after(html, heading)[1:]}


class _CellParser(HTMLParser):
    """The rows of the first table."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self.done = False
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if self.done:
            return
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None and not self.done:
            self.rows[-1].append("".join(self.cell))
            self.cell = None
        elif tag == "table":
            self.done = True

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def test_markdown_report(ready, tmp_path):
    ids = history(ready)
    path, _ = export(ready, "md", tmp_path)  # also from the -o suffix: see test_format_from_suffix
    md = path.read_text("utf-8")
    assert md.startswith("> **AUDIT CHAIN INTACT")
    for heading in ("# Audit report", "## Summary", "## Risk distribution", "## Decision times",
                    "## Segregation of duties and compliance flags", "## Request timelines", "## Integrity"):
        assert heading in md
    assert "<script>" not in md and "<img" not in md and "&lt;script&gt;" in md
    for wid in ids.values():
        assert f"### {wid}" in md
    assert "verified" in ready.ok("verify-audit", "--checkpoint", str(path)).stdout


def test_format_from_suffix_and_stdout(ready, tmp_path):
    history(ready)
    ready.ok("export-audit", "-o", str(tmp_path / "r.md"))
    assert (tmp_path / "r.md").read_text().startswith("> **AUDIT CHAIN INTACT")
    out = ready.ok("export-audit").stdout_bytes.decode().splitlines()
    assert json.loads(out[0])["record_type"] == "hitl_export_header"
    assert json.loads(out[-1])["entries_exported"] == len(out) - 2


def test_filters(ready, tmp_path):
    ids = history(ready)

    def entries(*args):
        path, _ = export(ready, "jsonl", tmp_path, *args)
        lines = [json.loads(x) for x in path.read_text().splitlines()]
        assert "verified" in ready.ok("verify-audit", "--checkpoint", str(path)).stdout
        return lines[0], lines[1:-1]

    _, only = entries("--workflow", ids["travel"])
    assert {e["workflow_id"] for e in only} == {ids["travel"]} and len(only) == 4
    _, sarah = entries("--user", "sarah.manager")
    assert {e["actor"] for e in sarah} == {"sarah.manager"} and len(sarah) == 3
    header, infra = entries("--type", "infrastructure-change")
    assert {e["workflow_id"] for e in infra} == {ids["migration"]}
    assert header["filters"]["workflow_types"] == ["infrastructure_change"]
    _, recent = entries("--since", "1h", "--until", "2999-12-31")
    assert len(recent) == ready.audit_size()  # the whole log was written within the last hour
    path, result = export(ready, "jsonl", tmp_path, "--since", "2999-01-01")
    assert "Nothing matched the filters" in result.stderr and len(path.read_text().splitlines()) == 2
    ready.refused("export-audit", "--since", "yesterday-ish", match="is not a date")
    ready.refused("export-audit", "--type", "yacht", match="Unknown workflow type")
    ready.refused("export-audit", "--since", "2025-02-01", "--until", "2025-01-01", match="must be before")
    # dates past the calendar were "unexpected error OverflowError"; non-ASCII digits were read as numbers
    ready.refused("export-audit", "--since", "99999999999d", match="outside the calendar")
    ready.refused("export-audit", "--since", "9999-12-31T23:59:59-23:59", match="outside the calendar")
    ready.refused("export-audit", "--until", "9999-12-31", match="outside the calendar")
    ready.refused("export-audit", "--since", "\u0967\u0968d", match="is not a date")


def test_export_needs_oversight_or_admin(ready, tmp_path):
    history(ready)
    with ready.service() as s:
        s.set_user_admin("ian.itadmin", True, actor=ME)
        s.set_user_admin(ME, False, actor="ian.itadmin")
    set_my_role_as(ready, "employee")
    ready.refused("export-audit", "-o", str(tmp_path / "x.jsonl"), match="oversight role")
    assert not (tmp_path / "x.jsonl").exists() and not list(tmp_path.glob(".x.jsonl*"))
    set_my_role_as(ready, "compliance")
    ready.ok("export-audit", "-o", str(tmp_path / "x.jsonl"))


def set_my_role_as(cli, role: str) -> None:
    with cli.service() as s:
        s.set_user_role(ME, role, actor="ian.itadmin")


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "html", "md"])
def test_tampered_database_is_flagged_loudly(ready, tmp_path, fmt):
    history(ready)
    seq = seq_of(ready, "rejected")
    tamper_body(ready, seq, b'"decision":"reject"', b'"decision":"approve"')
    path, result = export(ready, fmt, tmp_path, code=3)
    assert f"AUDIT CHAIN BROKEN at entry {seq}" in result.stderr
    text = path.read_text("utf-8-sig")
    first_lines = "\n".join(text.splitlines()[:3])
    assert f"AUDIT CHAIN BROKEN at entry {seq}" in first_lines or \
        (fmt == "html" and 'class="banner broken"' in text.split("<nav>")[0] and f"entry {seq}" in text.split("<nav>")[0])
    check = ready("verify-audit", "--checkpoint", str(path))
    assert check.exit_code == 3 and "FAIL  chain at export time" in check.stdout
    if fmt == "jsonl":
        header = json.loads(text.splitlines()[0])
        assert header["chain_status"] == "BROKEN" and header["checkpoint"] is None
        assert f"entry {seq}'s content does not match its hash" in check.stdout


def _jsonl_export(ready, tmp_path):
    history(ready)
    path, _ = export(ready, "jsonl", tmp_path)
    return path, path.read_text("utf-8").splitlines()


def test_edited_export_entry_is_caught(ready, tmp_path):
    path, lines = _jsonl_export(ready, tmp_path)
    k = next(i for i, x in enumerate(lines) if '"action":"rejected"' in x)
    lines[k] = lines[k].replace('"decision":"reject"', '"decision":"approve"')
    path.write_text("\n".join(lines) + "\n")
    for args in ((), ("--offline",)):
        result = ready("verify-audit", *args, "--checkpoint", str(path))
        assert result.exit_code == 3 and "content does not match its hash: it was edited" in result.stdout


def test_edited_or_dropped_opening_is_caught(ready, tmp_path):
    """The rejection's comment lives in the entry's opening, outside the hashed record: changing it
    leaves every hash intact, but not the digest the record seals (VERIFY.md 10)."""
    path, lines = _jsonl_export(ready, tmp_path)
    k = next(i for i, x in enumerate(lines) if '"action":"rejected"' in x)
    seq = json.loads(lines[k])["seq"]
    assert "is not a receipt" in lines[k]
    edited = list(lines)
    edited[k] = lines[k].replace("is not a receipt", "was fine")
    path.write_text("\n".join(edited) + "\n")
    for args in ((), ("--offline",)):
        result = ready("verify-audit", *args, "--checkpoint", str(path))
        assert result.exit_code == 3, result.stdout
        assert f"FAIL  personal data: entry {seq} holds a sealed value whose opening does not match its digest" \
            in result.stdout and "FAIL  exported entries" not in result.stdout
    obj = json.loads(lines[k])
    del obj["personal"]
    path.write_text("\n".join(lines[:k] + [json.dumps(obj)] + lines[k + 1:]) + "\n")
    result = ready("verify-audit", "--offline", "--checkpoint", str(path))
    assert result.exit_code == 3 and f"entry {seq} holds a sealed value the export does not open" in result.stdout


def test_removed_export_entry_is_caught(ready, tmp_path):
    path, lines = _jsonl_export(ready, tmp_path)
    del lines[3]
    path.write_text("\n".join(lines) + "\n")
    result = ready("verify-audit", "--offline", "--checkpoint", str(path))
    assert result.exit_code == 3 and "FAIL  complete file" in result.stdout


def test_rehashed_forgery_of_the_last_entry_is_caught(ready, tmp_path):
    from hitl_tui.core.audit import canonical_bytes, chain_hash

    path, lines = _jsonl_export(ready, tmp_path)
    last = json.loads(lines[-2])
    last["actor"] = "someone.else"
    body = canonical_bytes({k: v for k, v in last.items() if k not in ("record_type", "hash")})
    last["hash"] = chain_hash(bytes.fromhex(last["prev_hash"]), body).hex()  # self-consistent, but...
    lines[-2] = json.dumps(last)
    path.write_text("\n".join(lines) + "\n")
    result = ready("verify-audit", "--offline", "--checkpoint", str(path))
    assert result.exit_code == 3 and "FAIL  whole chain" in result.stdout  # ...no longer ends at the signed head


def test_edited_csv_cell_and_html_banner_are_caught(ready, tmp_path):
    history(ready)
    path, _ = export(ready, "csv", tmp_path)
    text = path.read_text("utf-8-sig").replace("rejected stage 1", "approved stage 1", 1)
    path.write_text(text, encoding="utf-8-sig")
    result = ready("verify-audit", "--checkpoint", str(path))
    assert result.exit_code == 3 and "the spreadsheet was edited" in result.stdout
    path, _ = export(ready, "html", tmp_path)
    text = path.read_text().replace("AUDIT CHAIN INTACT", "ALL GOOD", 1)
    path.write_text(text)
    result = ready("verify-audit", "--offline", "--checkpoint", str(path))
    assert result.exit_code == 3 and "FAIL  visible banner" in result.stdout
