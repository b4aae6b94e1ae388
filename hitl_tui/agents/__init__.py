"""AI agents that coordinate and advise; humans decide. Never imported by hitl_tui.core."""
