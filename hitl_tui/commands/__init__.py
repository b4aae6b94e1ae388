"""One module per operator sub-command (see COMMANDS in hitl_tui/cli.py)."""
