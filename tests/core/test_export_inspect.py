"""inspect_file on an export re-saved with a UTF-8 byte order mark (as Windows editors do): the
JSONL reader once read that first line as no JSON at all, crashed on the next line, and the
crash was reported as "neither a hitl-tui checkpoint nor an audit export" (found by mypy)."""

from __future__ import annotations

import os

from hitl_tui.core.reports import ExportFilter, export_audit, inspect_file
from hitl_tui.core.service import WorkflowService


def test_a_jsonl_export_with_a_byte_order_mark_is_verified_like_the_original(tmp_path):
    svc = WorkflowService.open(tmp_path / "r.db", key=os.urandom(32))
    try:
        svc.add_user("ian.itadmin", "it_admin", admin=True, actor="ian.itadmin")
        svc.add_user("carol.compliance", "compliance", actor="ian.itadmin")
        plain = tmp_path / "audit.jsonl"
        with open(plain, "wb") as fh:
            export_audit(svc, "jsonl", fh, ExportFilter(), generated_by="carol.compliance")
    finally:
        svc.close(checkpoint=False)
    marked = tmp_path / "audit-bom.jsonl"
    marked.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    want = [(c.name, c.ok) for c in inspect_file(plain).checks]
    rep = inspect_file(marked)
    assert rep.kind == "jsonl" and rep.ok
    assert [(c.name, c.ok) for c in rep.checks] == want
    assert ("whole chain", True) in want
