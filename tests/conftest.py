"""Shared pytest fixtures."""

# --- keyring and environment isolation (tests/keyring_session.py) ----------------------------
# isolated_environment is autouse: every test runs with a temp HOME/XDG, no HITL_DB_* variables
# and keyring's `fail` backend. private_keyring / real_keyring / locked_keyring give a private,
# real gnome-keyring on a private D-Bus for the tests that need one.
from tests.keyring_session import (  # noqa: F401
    isolated_environment,
    locked_keyring,
    private_keyring,
    real_keyring,
)
# --- end keyring block -------------------------------------------------------------------------
