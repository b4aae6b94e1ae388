"""`hitl-tui serve`: team mode's service, the one process that holds the database key.

Runs in the foreground (for systemd or a terminal) until SIGTERM or SIGINT; clients on this host
connect over a Unix socket (hitl_tui/remote/server.py) and act as the OS account the kernel says
they are.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..remote import systemd
from .common import Failure, db_path, guarded, me, passphrase_prompt, settings_of

if TYPE_CHECKING:
    from ..core.settings import Settings

def default_socket() -> Path:
    """$RUNTIME_DIRECTORY/hitl.sock under systemd (RuntimeDirectory=hitl-tui), the system socket
    as root, else hitl-tui/hitl.sock in the user's runtime directory."""
    from ..remote.protocol import SYSTEM_SOCKET

    runtime = systemd.runtime_directory()
    if runtime:
        return runtime / "hitl.sock"
    if os.geteuid() == 0:
        return Path(SYSTEM_SOCKET)
    user_runtime = systemd.session_runtime_directory()
    if not user_runtime:
        raise Failure("No XDG_RUNTIME_DIR to put the socket in; give one with --socket PATH.")
    return user_runtime / "hitl-tui" / "hitl.sock"


def with_credential(settings: "Settings") -> "Settings":
    """The settings, with systemd's credential as the key file when it is there and no key file
    was named (a key file named on purpose wins)."""
    directory = systemd.credentials_directory()
    if not directory or settings.db_key_file is not None:
        return settings
    credential = directory / systemd.CREDENTIAL_NAME
    if not credential.exists():
        return settings
    return settings.with_values(db_key_file=credential,
                                given_by=f"$CREDENTIALS_DIRECTORY/{systemd.CREDENTIAL_NAME}")


@click.command(short_help="Run the team service: the one holder of the database key.")
@click.option("--db", "db_file", type=click.Path(readable=False), default=None,
              help="Database file (default: as for every command: --db before the command, HITL_DB_PATH, ...).")
@click.option("--socket", "socket_path", type=click.Path(readable=False, path_type=Path), default=None,
              help="Where to listen (default: /run/hitl-tui/hitl.sock as root or under systemd, else "
                   "$XDG_RUNTIME_DIR/hitl-tui/hitl.sock).")
@click.option("--group", default=None, metavar="NAME",
              help="The group whose members may connect (the socket is made 0660 and given to it).")
@click.option("--max-connections", type=click.IntRange(1, 10_000), default=64, show_default=True,
              help="Connections open at once; more are refused.")
@click.option("--idle-timeout", type=click.FloatRange(0.1, 86_400), default=300.0, show_default=True,
              metavar="SECONDS", help="Close a connection that sends no complete request for this long.")
@click.option("--rate", type=click.FloatRange(0.1, 100_000), default=20.0, show_default=True, metavar="PER_SECOND",
              help="Requests a second one connection may make (bursts of twice that); more are refused. "
                   "A decision is two requests.")
@click.pass_context
@guarded
def serve(ctx: click.Context, db_file: str | None, socket_path: Path | None, group: str | None,
          max_connections: int, idle_timeout: float, rate: float) -> None:
    """Serve the database to the people on this host: run in the foreground (for systemd or a
    terminal) as a dedicated service account, the only one that can read the database and its
    key. Clients connect with `--server SOCKET` (or HITL_SERVER, or `server = ...` in their
    config file) and act as the OS account the kernel says they are.

    The key comes from the same places as for every command (key file, HITL_DB_KEY, the keyring,
    a passphrase), or from systemd: LoadCredential=hitl-db-key:/etc/hitl-tui/db.key puts it in
    $CREDENTIALS_DIRECTORY. Logs go to stderr, one line per event. SIGTERM finishes the requests
    in flight, seals a checkpoint and exits 0.

    \b
    Example:
      hitl-tui serve --db /var/lib/hitl-tui/hitl.db --group hitl
    """
    from ..core.service import WorkflowService
    from ..remote.server import Limits, serve as run

    path = Path(db_file).expanduser() if db_file else db_path(ctx)
    where = socket_path or default_socket()
    settings = with_credential(settings_of(ctx))
    service = WorkflowService.open(path, passphrase_prompt=passphrase_prompt(path), create=False,
                                   operator=me(), settings=settings)
    try:
        code = run(service, where, group=group, limits=Limits(max_connections=max_connections,
                                                              idle_timeout=idle_timeout, rate=rate,
                                                              burst=max(1, int(rate * 2))))
    finally:
        service.close(checkpoint=False)  # a second close does nothing; this one is for a failed start
    ctx.exit(code)
