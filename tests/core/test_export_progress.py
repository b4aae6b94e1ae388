"""core.reports.export_audit's write progress (the desk's export dialog shows it) and
export_to_file, the one atomic writer the CLI and the desk share."""

from __future__ import annotations

import io
import os
import stat

import pytest

from hitl_tui.core.reports import ExportFilter, export_audit, export_to_file
from hitl_tui.core.service import WorkflowService


@pytest.fixture
def service(tmp_path):
    svc = WorkflowService.open(tmp_path / "hitl.db", key=os.urandom(32), create=True)
    svc.add_user("carl", "compliance")
    svc.add_user("alice", "employee")
    for i in range(5):
        svc.create_workflow_request("expense_approval", f"Trip {i}", "", "alice", {"amount": "50", "category": "travel"})
    yield svc
    svc.close(checkpoint=False)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "html", "md"])
def test_write_progress_runs_up_to_the_signed_size_in_every_format(service, fmt):
    calls: list[tuple[int, int]] = []
    result = export_audit(service, fmt, io.BytesIO(), ExportFilter(), generated_by="carl",
                          write_progress=lambda done, total: calls.append((done, total)))
    size = result.integrity.checkpoint.size
    assert calls and calls[-1] == (size, size)
    assert all(total == size for _, total in calls) and [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_a_progress_callback_that_raises_leaves_no_file_under_either_name(service, tmp_path):
    target = tmp_path / "out" / "audit.jsonl"
    target.parent.mkdir()

    class Stop(Exception):
        pass

    def stop(done, total):
        raise Stop

    with pytest.raises(Stop):
        export_to_file(target, lambda fh: export_audit(service, "jsonl", fh, ExportFilter(), generated_by="carl",
                                                       write_progress=stop))
    assert list(target.parent.iterdir()) == []
    export_to_file(target, lambda fh: export_audit(service, "jsonl", fh, ExportFilter(), generated_by="carl"))
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and [p.name for p in target.parent.iterdir()] == ["audit.jsonl"]
