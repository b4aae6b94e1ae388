"""Screens and modals of the approval desk, one per file (see ARCHITECTURE.md)."""
