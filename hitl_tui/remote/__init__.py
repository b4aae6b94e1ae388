"""Team mode: `hitl-tui serve`, the one process that holds the database key, and the clients that
talk to it over a Unix socket (protocol.py: JSON-RPC 2.0, one message per line)."""
