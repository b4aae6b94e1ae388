"""`hitl-tui http`: the approval API over HTTP for systems on other hosts (issue 12).

    gateway.py   one hitl_tui.client.Desk per bearer token, embedded or through the service
    app.py       the endpoints (Starlette), their limits, one-line JSON errors, one log line each
    models.py    what they take and answer (pydantic); openapi.py describes them from it
    listen.py    where it listens (loopback, or TLS), and uvicorn

Imports no user interface and no assistant (an import-linter contract in pyproject.toml).
"""
