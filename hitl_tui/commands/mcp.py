"""`hitl-tui mcp`: the MCP server for agent hosts, over stdio (hitl_tui/mcp_server.py).

An agent host starts it and speaks MCP on its stdin and stdout, so nothing but MCP messages may
reach stdout: the server keeps the real stdout for the protocol and sends everything else to
stderr, which hosts keep as the server's log (one line at start, one when it cannot close
cleanly, never request text). It acts as the OS account running it, in team mode or on the
database here exactly as every command chooses (Desk.open); it asks for no passphrase, since
stdin is the protocol's.
"""

from __future__ import annotations

from typing import Any

import click

from .common import guarded, log_traceback, settings_of


@click.command("mcp")
@click.option("--agent", "agent", default=None, metavar="NAME",
              help="The agent's name shown to approvers when a tool call gives none (say, the host's name).")
@click.pass_context
@guarded
def mcp(ctx: click.Context, agent: str | None) -> None:
    """Serve request_approval, get_decision, list_my_requests and cancel_request as MCP tools on
    stdin/stdout, as your OS account, for agent hosts that launch MCP servers.

    No tool decides: a human approves at the desk. A call waits up to its wait_seconds (default
    50) sending progress notifications, then returns a pending handle; get_decision waits again.
    Logs go to stderr."""
    import anyio

    from ..client import Desk
    from ..core.errors import HitlError
    from ..mcp_server import HitlMcp, protocol_streams

    root = ctx.find_root().obj or {}
    settings = settings_of(ctx)

    def opener() -> Desk:
        return Desk.open(root.get("db_path"), server=root.get("server"), settings=settings)

    server = HitlMcp(opener, agent=agent, report_unexpected=log_traceback)
    stdin, stdout = protocol_streams()
    try:  # opened now, so that the log says at once whether it works; a failure is retried per call
        desk = server.slot.desk = opener()
        where = "through the service (team mode)" if desk.team else "on the database here"
        _log(f"serving MCP on stdio as {desk.username}, {where}")
    except (HitlError, OSError) as exc:
        _log(f"serving MCP on stdio, not ready yet: {' '.join(str(exc).split())} (each tool call tries again)")

    async def main() -> None:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_stop_on_signal, tasks.cancel_scope)
            await server.run_stdio(stdin, stdout)
            tasks.cancel_scope.cancel()  # stdin closed: the host is done with us

    try:
        anyio.run(main)
    finally:
        server.close()  # a seal that fails raises here: guarded makes it one line


async def _stop_on_signal(scope: Any) -> None:
    """SIGTERM or SIGHUP (the host quits, the terminal goes): stop serving and close the Desk as
    closing stdin does (embedded: its session sealed), exit 0."""
    import signal

    import anyio

    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGHUP) as signals:
        async for _ in signals:
            scope.cancel()
            return


def _log(line: str) -> None:
    click.echo(f"hitl-tui mcp: {line}", err=True)
