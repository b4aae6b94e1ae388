"""Sealed personal values through the standalone verifier (docs/VERIFY.md section 10): real
databases made through the engine and the installed `hitl-tui` script, their JSONL and CSV
exports checked by verifier/hitl_verify.py in a Python that cannot import hitl_tui. Every
opening must hash to the digest its entry seals; after `hitl-tui erase` by two administrators
the exports still verify, the values read `erased on DATE`, and the erasure itself is checked."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli.conftest import ME, Cli
from tests.keyring_session import isolated_home

from .conftest import _populate, verify


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def _write(path: Path, objs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs), "utf-8")
    return path


def _seals(node) -> list[dict]:
    if isinstance(node, dict) and set(node) == {"key", "sealed"}:
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _seals(v)]
    if isinstance(node, list):
        return [s for v in node for s in _seals(v)]
    return []


def _entry(objs: list[dict], action: str, workflow_id: str | None = None) -> dict:
    return next(o for o in objs if o.get("action") == action and (workflow_id is None or o.get("workflow_id") == workflow_id))


def _csv_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))


def _write_csv(path: Path, rows: list[list[str]]) -> Path:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    path.write_bytes(("\ufeff" + out.getvalue()).encode("utf-8"))
    return path


# --- before any erasure: every value opened, every opening checked -------------------------------

def test_every_sealed_value_is_opened_and_checked(trail):
    objs = _lines(trail.exports["jsonl"])
    entries = [o for o in objs if o.get("record_type") == "audit_entry"]
    sealed = sum(len(_seals(e["details"])) for e in entries)
    assert sealed >= 15 and all(len(e.get("personal", {})) == len(_seals(e["details"])) for e in entries)
    assert "no budget" not in json.dumps(_entry(objs, "rejected")["details"])  # the record holds the seal only
    for fmt in ("jsonl", "csv"):
        result = verify(trail.exports[fmt])
        assert result.code == 0 and result.last == "verified", result.out
        assert result.line("personal data").startswith(f"ok    personal data: {sealed} sealed values opened"), result.out


def test_an_edited_opening_fails_naming_its_entry(trail, tmp_path):
    objs = _lines(trail.exports["jsonl"])
    rejected = _entry(objs, "rejected")
    opening = rejected["personal"][rejected["details"]["comments"]["sealed"]]
    assert opening["value"] == "no budget"
    opening["value"] = "approved after all"
    result = verify(_write(tmp_path / "edited.jsonl", objs))
    assert result.code == 3 and result.line("entries").startswith("ok"), result.out  # every hash still holds
    assert result.last == (f"FAILED: personal data: entry {rejected['seq']} holds a sealed value whose opening does "
                           f"not match its digest: the value was edited")

    rows = _csv_rows(trail.exports["csv"])
    col = rows[0].index("personal")
    i = next(n for n, r in enumerate(rows) if r[4] == "created")
    cell = json.loads(rows[i][col])
    first = next(iter(cell))
    cell[first]["value"] += " (amended)"
    rows[i][col] = json.dumps(cell)
    result = verify(_write_csv(tmp_path / "edited.csv", rows))
    assert result.code == 3 and result.last == (f"FAILED: personal data: entry {rows[i][1]} holds a sealed value whose "
                                                f"opening does not match its digest: the value was edited")


def test_a_dropped_opening_fails_in_a_whole_export(trail, tmp_path):
    objs = _lines(trail.exports["jsonl"])
    created = _entry(objs, "created", trail.requests["travel"])
    del created["personal"][created["details"]["title"]["sealed"]]
    result = verify(_write(tmp_path / "dropped.jsonl", objs))
    assert result.code == 3
    assert result.last == f"FAILED: personal data: entry {created['seq']} holds a sealed value the export does not open"

    rows = _csv_rows(trail.exports["csv"])
    col = rows[0].index("personal")
    i = next(n for n, r in enumerate(rows) if r[4] == "rejected")
    rows[i][col] = ""
    result = verify(_write_csv(tmp_path / "dropped.csv", rows))
    assert result.code == 3
    assert result.last == f"FAILED: personal data: entry {rows[i][1]} holds a sealed value the export does not open"


def test_a_filtered_export_may_leave_a_value_unopened_but_not_open_a_false_one(trail, tmp_path):
    objs = _lines(trail.exports["filtered"])
    created = _entry(objs, "created")
    del created["personal"][created["details"]["title"]["sealed"]]
    result = verify(_write(tmp_path / "part.jsonl", objs))
    assert result.last == "verified" and "1 not opened" in result.line("personal data"), result.out
    created["personal"]["ab" * 32] = {"salt": "00" * 16, "value": "smuggled text"}
    result = verify(_write(tmp_path / "part.jsonl", objs))
    assert result.code == 3 and result.last.startswith(
        f"FAILED: personal data: entry {created['seq']} carries an opening for abababababababab"), result.out


# --- after `hitl-tui erase`: still verified, values erased, the erasure checked -------------------

@dataclass
class Erased:
    cli: Cli
    env: dict[str, str]
    requests: dict[str, str]
    before: Path  # the JSONL export made before the erasures
    exports: dict[str, Path]  # jsonl, csv, html, after them
    bundle: Path
    day: str  # the UTC date of the erasures


@pytest.fixture(scope="module")
def erased(tmp_path_factory) -> Erased:
    root = tmp_path_factory.mktemp("erased")
    with isolated_home(root / "home") as env:  # the autouse isolation is per test; this is per module
        cli = Cli(root)
        cli.ok("init", "--email", "me@example.com")
        requests = _populate(cli)
        out = root / "out"
        out.mkdir()
        before = out / "before.jsonl"
        cli.ok("export-audit", "-o", str(before))
        with cli.service() as s:  # a second administrator asks; the CLI's user (ME) carries it out
            s.set_user_admin("carol.compliance", True, actor=ME)
            s.erasure.request(requests["laptop"], "the employee asked to be forgotten", actor="carol.compliance")
            s.erasure.request("ian.itadmin", "left the company: GDPR Art. 17", actor="carol.compliance")
        cli.ok("erase", requests["laptop"], "--confirm")
        cli.ok("erase", "ian.itadmin", "--confirm")
        exports = {fmt: out / f"audit.{fmt}" for fmt in ("jsonl", "csv", "html")}
        for path in exports.values():
            cli.ok("export-audit", "-o", str(path))
        bundle = out / "bundle"
        cli.ok("export-audit", "--bundle", str(bundle))
        day = _entry(_lines(exports["jsonl"]), "personal_data_erased")["ts"][:10]
        yield Erased(cli, env, requests, before, exports, bundle, day)


def test_after_an_erasure_the_exports_still_verify(erased):
    result = verify(erased.bundle)
    assert result.code == 0 and result.last == "verified", result.out
    for check in ("entries", "signatures", "state", "tree", "csv = jsonl", "inclusion proofs"):
        assert result.line(check).startswith("ok"), (check, result.out)
    line = result.line("personal data")
    assert line.startswith("ok") and "2 erasures by two administrators" in line, line
    assert int(line.split("; ")[1].split()[0]) >= 3, line  # the laptop's title and comment, ian's email
    for path in erased.exports.values():
        run = erased.cli.ok("verify-audit", "--checkpoint", str(path), env=erased.env)  # hitl-tui's own check
        assert "Result: verified." in run.stdout and "ok    personal data" in run.stdout, run.stdout


def test_erased_values_read_erased_on_the_date_everywhere(erased):
    placeholder = f"erased on {erased.day}"
    for path in (*erased.exports.values(), erased.bundle / "export.jsonl", erased.bundle / "export.csv",
                 erased.bundle / "state.json"):
        data = path.read_text("utf-8-sig")
        assert "no budget" not in data and "ian.itadmin@example.com" not in data, path
    objs = _lines(erased.exports["jsonl"])
    rejected = _entry(objs, "rejected", erased.requests["laptop"])
    by = _entry(objs, "personal_data_erased", None)
    assert list(rejected["personal"].values()) == [{"erased": erased.day, "by": by["seq"]}]
    table = _csv_rows(erased.exports["csv"])
    rows = [dict(zip(table[0], r)) for r in table[2:-1]]
    created = next(r for r in rows if r["action"] == "created" and r["workflow_id"] == erased.requests["laptop"])
    assert f'"{placeholder}"' in created["summary"] and json.loads(created["details"])["title"] == placeholder
    html = erased.exports["html"].read_text("utf-8")
    assert f"{erased.requests['laptop']}: {placeholder}" in html
    state = json.loads((erased.bundle / "state.json").read_text())
    assert next(r for r in state["requests"] if r["id"] == erased.requests["laptop"])["title"] == placeholder
    assert next(u for u in state["users"] if u["username"] == "ian.itadmin")["email"] == placeholder
    travel = next(r for r in state["requests"] if r["id"] == erased.requests["travel"])
    assert travel["title"] != placeholder  # only what was erased


def test_an_erased_opening_must_name_the_erasure_that_lists_its_key(erased, tmp_path):
    objs = _lines(erased.exports["jsonl"])
    rejected = _entry(objs, "rejected", erased.requests["laptop"])
    key = rejected["details"]["comments"]["key"]
    laptop_erasure, ian_erasure = [o for o in objs if o.get("action") == "personal_data_erased"]
    opening = next(iter(rejected["personal"].values()))
    opening["by"] = ian_erasure["seq"]
    result = verify(_write(tmp_path / "other.jsonl", objs))
    assert result.code == 3 and result.last == (
        f"FAILED: personal data: entry {rejected['seq']} holds a sealed value marked erased by entry "
        f"{ian_erasure['seq']}, which does not list its key {key}")
    opening["by"], opening["erased"] = laptop_erasure["seq"], "2001-01-01"
    result = verify(_write(tmp_path / "date.jsonl", objs))
    assert result.last == (f"FAILED: personal data: entry {rejected['seq']} holds a sealed value marked erased on "
                           f"2001-01-01, but entry {laptop_erasure['seq']} was written on {erased.day}")


def test_an_export_that_kept_an_erased_value_fails(erased, tmp_path):
    """The opening made before the erasure is genuine (it hashes to the digest), but an export
    made since cannot hold it: its key was destroyed."""
    kept = _entry(_lines(erased.before), "rejected", erased.requests["laptop"])["personal"]
    objs = _lines(erased.exports["jsonl"])
    rejected = _entry(objs, "rejected", erased.requests["laptop"])
    rejected["personal"] = kept
    result = verify(_write(tmp_path / "kept.jsonl", objs))
    erasure = _entry(objs, "personal_data_erased")
    assert result.code == 3 and result.last == (
        f"FAILED: personal data: entry {rejected['seq']} opens a value sealed under key "
        f"{rejected['details']['comments']['key']}, which entry {erasure['seq']} erased: the erasure was not "
        f"carried out"), result.out


def test_an_erasure_by_the_one_who_asked_breaks_the_two_person_rule(erased, tmp_path):
    objs = _lines(erased.exports["jsonl"])
    erasure = _entry(objs, "personal_data_erased")
    assert erasure["actor"] == ME and erasure["details"]["requested_by"] == "carol.compliance"
    erasure["details"]["requested_by"] = ME  # what a lone administrator would need the trail to say
    result = verify(_write(tmp_path / "alone.jsonl", objs))
    assert result.code == 3 and "does not match its hash" in result.line("entries")  # hashed, and signed, too
    assert result.line("personal data") == (
        f"FAIL  personal data: entry {erasure['seq']} (personal_data_erased of {erased.requests['laptop']} by {ME}) "
        f"breaks the two-person rule: {ME} also asked for it")


def test_a_csv_without_its_personal_column_fails(trail, tmp_path):
    """Exports written before values were sealed have no `personal` column, and are read so; one
    whose column was cut off cannot pass as such, by hitl-tui's check or the standalone one."""
    rows = _csv_rows(trail.exports["csv"])
    col = rows[0].index("personal")
    first = next(n for n, r in enumerate(rows) if r[0] == "audit_entry" and r[col])
    cut = _write_csv(tmp_path / "cut.csv", [r[:col] + r[col + 1:] for r in rows])
    result = verify(cut)
    assert result.code == 3
    sealed = sum(1 for r in rows if r[0] == "audit_entry" and r[col] for _ in json.loads(r[col]))
    assert result.last == (f"FAILED: personal data: entry {rows[first][1]} holds a sealed value the export does not "
                           f"open (and {sealed - 1} more)")
    run = trail.cli("verify-audit", "--offline", "--checkpoint", str(cut), env=trail.env)
    assert run.exit_code == 3 and (f"FAIL  personal data: entry {rows[first][1]} holds a sealed value the export does "
                                   f"not open") in run.stdout, run.stdout
