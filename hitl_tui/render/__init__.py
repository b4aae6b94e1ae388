"""Engine values as safe, short rich Text for the panes and dialogs (no widgets here)."""
