"""The seed document's seven people, as the tests use them: the demo dataset's directory is the
one place that lists them."""

from hitl_tui.demo.dataset import USERS

#: username -> role
SEED_CAST: dict[str, str] = {name: role for name, (role, _display, _admin) in USERS.items()}
