"""Widgets of the approval desk, one per file; display.py holds the safe-text helpers they share."""
