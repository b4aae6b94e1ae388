"""hitl-tui: a keyboard-driven terminal desk for human-in-the-loop approvals."""

__version__ = "0.1.0"
