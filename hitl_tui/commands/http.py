"""`hitl-tui http`: the approval API over HTTP, for systems on other hosts (hitl_tui/http/).

It runs as an OS account of its own and serves callers that each hold a bearer token (`hitl-tui
token create`): on the database here, or in team mode through the service, exactly as every
command chooses. Checks come first (the address and TLS, then the database or the service), each
refusal one line; then one line says where it listens, and one line per request follows on
stderr. SIGTERM or SIGINT: requests in flight get a few seconds, then (embedded) the session is
sealed with a checkpoint and it exits 0.
"""

from __future__ import annotations

from pathlib import Path

import click

from .common import db_path, guarded, me, passphrase_prompt, settings_of, team_server


@click.command("http", short_help="Serve the approval API over HTTP, with a bearer token per integration.")
@click.option("--listen", "listen_at", default="127.0.0.1:8470", show_default=True, metavar="HOST:PORT",
              help="Where to listen. Anything but a loopback address needs --tls-cert and --tls-key.")
@click.option("--tls-cert", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE",
              help="TLS certificate chain (PEM).")
@click.option("--tls-key", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE",
              help="Its private key (PEM).")
@click.option("--rate", type=click.FloatRange(0.1, 10_000), default=10.0, show_default=True, metavar="PER_SECOND",
              help="Requests a second each token may make (bursts of twice that); more get 429.")
@click.pass_context
@guarded
def http(ctx: click.Context, listen_at: str, tls_cert: Path | None, tls_key: Path | None, rate: float) -> None:
    """Serve the approval API over HTTP: file a request for a human's approval, read it, wait for
    it, cancel it, fetch the receipt key. Each call carries `Authorization: Bearer hitl_...`, a
    token an administrator made with `hitl-tui token create ACCOUNT`, and acts as that account.
    No endpoint approves: a person decides at the desk. GET /openapi.json describes it.

    \b
    Examples:
      hitl-tui http                                   # 127.0.0.1:8470, plain HTTP (loopback only)
      hitl-tui http --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem
    """
    from ..http import listen as where
    from ..http.app import Api, Limits
    from ..http.gateway import Gateway
    from ..remote.choice import leave_team_mode

    address = where.parse_listen(listen_at)
    tls = where.tls_context(tls_cert, tls_key)
    where.check_exposure(address, tls is not None)
    settings = settings_of(ctx)
    team = team_server(ctx)
    if team is None:
        from ..core.service import WorkflowService

        path = db_path(ctx)
        service = WorkflowService.open(path, passphrase_prompt=passphrase_prompt(path), create=False,
                                       operator=me(), settings=settings)
        gateway = Gateway(service=service)
    else:
        from ..remote.connection import ServiceConnection

        socket_path, chosen_by = team
        ServiceConnection.open(socket_path, leave_team_mode(chosen_by)).close()  # reachable now, or one line
        gateway = Gateway(socket=socket_path, settings=settings, unset_hint=leave_team_mode(chosen_by))
    try:
        sock = where.bind(address)
        api = Api(gateway, Limits(rate=rate, burst=max(1, int(rate * 2))))

        def started(port: int) -> None:
            api.log(f"listening on {address.url(port, tls is not None)} as {me()}, {gateway.where}; "
                    f"{rate:g} requests a second per token")

        where.serve(api.app(), sock, tls, tls_cert, tls_key, started, api.stop)
    finally:
        gateway.close()  # embedded: the session is sealed here with a checkpoint
    sealed = gateway.service
    if sealed is not None and (sealed.seal_refused_reason or sealed.seal_error):
        api.log(f"stopped; the session was not sealed: {sealed.seal_refused_reason or sealed.seal_error}")
        return
    api.log("stopped")
