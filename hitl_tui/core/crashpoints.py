"""Named crash points, FOR TESTS ONLY: kill the process at an exact step of a multi-step change.

`crash_point("rekey.after_rekey")` does nothing unless the environment variable HITL_CRASH_AT
equals that name when this module is first imported; then the process sends itself SIGKILL
right there (no cleanup, no flushing, no `finally`), exactly as `kill -9` or a power cut would.
The crash-point tests (tests/reliability/test_crash_points.py) run the installed `hitl-tui` with
HITL_CRASH_AT set, then check that the database still opens with a stored key, verifies, and
holds every action that was acknowledged before the kill.

The variable is read once; with it unset, `crash_point` is an empty function. Never set it
outside a test.
"""

from __future__ import annotations

import os
import signal

ENV = "HITL_CRASH_AT"

#: every crash point placed in the code, in the order a change passes them (the tests
#: parametrise over this list, and check that each name is really placed, and nothing else is)
POINTS: tuple[str, ...] = (
    # creating the database key (keys.create_key): key file or keyring entry
    "create_key.after_generate", "create_key.after_write",
    # creating the checkpoint signing key (checkpoints.load_signer, via safe_files.write_new_file)
    "signing_key.after_create", "signing_key.before_write", "signing_key.after_write",
    # creating a person's signing key (personal_keys.KeyStore, via safe_files.write_new_file)
    "personal_key.after_create", "personal_key.before_write", "personal_key.after_write",
    # every write transaction (WorkflowService._write)
    "write.before_commit", "write.after_commit",
    # sealing a checkpoint (WorkflowService.checkpoint), inside its write transaction
    "checkpoint.before_sign", "checkpoint.after_sign",
    # rotating the database key (WorkflowService.rekey)
    "rekey.before_pending", "rekey.after_pending", "rekey.after_rekey", "rekey.after_audit",
    "rekey.after_promote",
)

_TARGET = os.environ.get(ENV) or None


def _kill(name: str) -> None:
    if name == _TARGET:
        os.kill(os.getpid(), signal.SIGKILL)


def _nothing(name: str) -> None:  # noqa: ARG001 - the hot path when no crash is wanted
    return None


crash_point = _nothing if _TARGET is None else _kill
