"""`hitl-tui export-audit --bundle DIR` through the installed script: everything an auditor
needs, checked by the standalone verifier; a non-empty DIR refused; nothing half-written."""

from __future__ import annotations

import json

import pytest

from hitl_tui.core.errors import BundleRefused

from .conftest import REPO, VECTORS, VERIFIER, verify

BUNDLE_FILES = {"README.txt", "export.jsonl", "export.csv", "checkpoint.note", "checkpoint.vkey", "keys.json",
                "proofs.jsonl", "state.json", "VERIFY.md", "hitl_verify.py", "vectors"}


def test_bundle_holds_the_kit_and_verifies(trail):
    b = trail.bundle
    assert {p.name for p in b.iterdir()} == BUNDLE_FILES
    assert (b / "hitl_verify.py").read_bytes() == VERIFIER.read_bytes()
    assert (b / "VERIFY.md").read_bytes() == (REPO / "docs" / "VERIFY.md").read_bytes()
    assert {p.name: p.read_bytes() for p in (b / "vectors").iterdir()} == {p.name: p.read_bytes() for p in VECTORS.iterdir()}
    readme = (b / "README.txt").read_text().splitlines()
    vkey = (b / "checkpoint.vkey").read_text().strip()
    assert len(readme) == 3 and "python hitl_verify.py" in readme[1] and vkey in readme[1]
    result = verify(b, "--vkey", vkey, verifier=b / "hitl_verify.py")
    assert result.code == 0 and result.last == "verified", result.out
    for check in ("tree", "signatures", "state", "csv = jsonl", "inclusion proofs", "keys.json", "vectors broken.json"):
        assert result.line(check).startswith("ok"), (check, result.out)
    state = json.loads((b / "state.json").read_text())
    assert state["audit_size"] == json.loads((b / "export.jsonl").read_text().splitlines()[-1])["last_seq"]
    assert {r["id"] for r in state["requests"]} == set(trail.requests.values())


def test_bundle_proofs_are_checked(trail, tmp_path):
    import shutil

    b = tmp_path / "b"
    shutil.copytree(trail.bundle, b)
    lines = (b / "proofs.jsonl").read_text().splitlines()
    obj = json.loads(lines[1])
    obj["entries"][0]["path"][0] = "00" * 32
    (b / "proofs.jsonl").write_text("\n".join([lines[0], json.dumps(obj), *lines[2:]]) + "\n")
    result = verify(b)
    assert result.code == 3
    assert result.last == (f"FAILED: inclusion proofs: the inclusion proof of entry {obj['entries'][0]['seq']} "
                           f"({obj['workflow_id']}) does not verify")
    (b / "proofs.jsonl").write_text("\n".join(lines[:1] + lines[2:]) + "\n")
    assert verify(b).last.endswith("has no inclusion proof")


def test_bundle_refuses_a_directory_that_is_not_empty(trail, tmp_path):
    target = tmp_path / "full"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    result = trail.cli.refused("export-audit", "--bundle", str(target), env=trail.env,
                               match=f"{target} is not empty; give a new or empty directory for the bundle.")
    assert result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"] and [p.name for p in target.iterdir()] == ["notes.txt"]


def test_bundle_into_an_empty_directory(trail, tmp_path):
    target = tmp_path / "empty"
    target.mkdir()
    run = trail.cli.ok("export-audit", "--bundle", str(target), env=trail.env)
    assert "Wrote the audit bundle of" in run.stderr and {p.name for p in target.iterdir()} == BUNDLE_FILES
    assert [p.name for p in tmp_path.iterdir()] == ["empty"]  # no temporary directory left beside it


def test_bundle_refuses_filters_and_formats(trail, tmp_path):
    trail.cli.refused("export-audit", "--bundle", str(tmp_path / "b"), "--format", "csv", "--user", "john.doe",
                      code=2, env=trail.env, match="--bundle always holds the whole trail; drop --format, --user.")
    assert not (tmp_path / "b").exists()


def test_a_failing_bundle_leaves_nothing(trail, tmp_path, monkeypatch):
    """A failure after the exports were written (here: reading the tables fails) leaves neither DIR
    nor its temporary directory."""
    from hitl_tui.core.reports.bundle import write_bundle
    from tests.cli.conftest import ME

    for name, value in trail.env.items():
        monkeypatch.setenv(name, value)
    with trail.cli.service() as service:
        def broken():
            raise BundleRefused("the tables cannot be read")

        monkeypatch.setattr(service, "table_state", broken)
        with pytest.raises(BundleRefused):
            write_bundle(service, tmp_path / "b", generated_by=ME)
    assert list(tmp_path.iterdir()) == []


def test_a_broken_chain_is_bundled_as_it_is_and_fails(tmp_path):
    from tests.cli.conftest import Cli, tamper_body

    cli = Cli(tmp_path)
    cli.ok("init", "--email", "me@example.com")
    tamper_body(cli, 1, b'"admin":true', b'"admin":false')
    run = cli("export-audit", "--bundle", str(tmp_path / "b"))
    assert run.exit_code == 3 and "AUDIT CHAIN BROKEN at entry 1" in run.stderr.splitlines()[-1]
    assert not (tmp_path / "b" / "checkpoint.note").exists() and (tmp_path / "b" / "export.jsonl").exists()
    result = verify(tmp_path / "b")
    assert result.code == 3
    assert result.last == "FAILED: entries: entry 1 does not match its hash: its content was edited"
    assert result.line("chain at export time").startswith("FAIL")
