"""The `hitl-tui` command: no sub-command opens the TUI; sub-commands are the operator CLI.

Sub-commands live one module each in hitl_tui/commands/ and are imported only when invoked, so
`hitl-tui` (the TUI) never pays for click commands, reports or the agents at start-up.
"""

from __future__ import annotations

import importlib
import importlib.util  # not implied by `import importlib`; an editable install's finder hid this
import os
import sys

import click

from .core.errors import HitlError

# name -> "module:attribute"; a module is imported only when its command runs or --help lists it
COMMANDS: dict[str, str] = {
    "init": "hitl_tui.commands.init:init",
    "users": "hitl_tui.commands.users:users",
    "request": "hitl_tui.commands.requests:request",
    "approve": "hitl_tui.commands.decide:approve",
    "reject": "hitl_tui.commands.decide:reject",
    "request-changes": "hitl_tui.commands.decide:request_changes",
    "withdraw": "hitl_tui.commands.decide:withdraw",
    "verify-audit": "hitl_tui.commands.audit:verify_audit",
    "checkpoint": "hitl_tui.commands.audit:checkpoint",
    "prove": "hitl_tui.commands.prove:prove",
    "export-audit": "hitl_tui.commands.export:export_audit",
    "rekey": "hitl_tui.commands.rekey:rekey",
    "locate": "hitl_tui.commands.locate:locate",
    "policy": "hitl_tui.commands.policy:policy",
    "ask": "hitl_tui.commands.ask:ask",
    "key": "hitl_tui.commands.keys:key",
    "erase": "hitl_tui.commands.erase:erase",
    "retention": "hitl_tui.commands.erase:retention",
    "serve": "hitl_tui.commands.serve:serve",
    "doctor": "hitl_tui.commands.doctor:doctor",
    "receipt": "hitl_tui.commands.receipts:receipt",
    "verify-receipt": "hitl_tui.commands.receipts:verify_receipt",
    "mcp": "hitl_tui.commands.mcp:mcp",
    "http": "hitl_tui.commands.http:http",
    "token": "hitl_tui.commands.tokens:token",
    "notify": "hitl_tui.commands.notify:notify",
    "delegate": "hitl_tui.commands.delegate:delegate",
    "reassign": "hitl_tui.commands.delegate:reassign",
    "stats": "hitl_tui.commands.stats:stats",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | {n for n in COMMANDS if _available(n)})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        cmd = super().get_command(ctx, name)
        if cmd is not None or name not in COMMANDS:
            return cmd
        module, attr = COMMANDS[name].split(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                return None  # not built yet
            raise

    def invoke(self, ctx: click.Context) -> None:
        # main() turns what click hands back into the exit status, so a command's return value
        # must never reach it: only ctx.exit(N) sets a status (or an exception does)
        super().invoke(ctx)


def _available(name: str) -> bool:
    module = COMMANDS[name].split(":")[0]
    return importlib.util.find_spec(module) is not None


@click.group(cls=LazyGroup, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
# no checks in click.Path: the engine says what is wrong with the file (a directory, unreadable,
# ...) and where the path came from. No envvar either: HITL_DB_PATH is the db_path setting, read
# with every other setting by core/settings.py, which then knows where each value came from
@click.option("--db", "db_path", type=click.Path(readable=False),
              help="Database file (default: hitl.db in the data directory; `hitl-tui locate` prints it).")
@click.option("--server", "server", type=click.Path(readable=False), default=None, metavar="SOCKET",
              help="Team mode: use the `hitl-tui serve` service at SOCKET instead of opening a database "
                   "(or HITL_SERVER, or server = ... in the config file).")
@click.option("--demo", is_flag=True, help="Open the guided demo on a throwaway database.")
@click.option("--accessible", is_flag=True,
              help="The desk as plain lines for screen readers: no redraws; commands typed a line at a time.")
@click.version_option(package_name="hitl-tui", prog_name="hitl-tui")
@click.pass_context
def main_group(ctx: click.Context, db_path: str | None, server: str | None, demo: bool, accessible: bool) -> None:
    """hitl-tui: the approval desk. With no command, opens the full-screen inbox."""
    ctx.ensure_object(dict)
    ctx.obj["db_path"] = db_path
    ctx.obj["server"] = server
    from .core.settings import Settings

    # built once for the whole invocation (a bad value: one line, exit 1) and passed to what it
    # opens; commands reach it through commands.common.settings_of(ctx)
    settings = ctx.obj["settings"] = Settings.load(db_path=db_path or None, given_by="--db")
    if ctx.invoked_subcommand not in ("init", "policy"):  # those two say what they read themselves
        from .commands.policy import warn_ignored_environment
        warn_ignored_environment()
    if accessible and (demo or ctx.invoked_subcommand is not None):
        raise click.UsageError("--accessible opens the line-by-line desk; it takes neither --demo nor a command.")
    if not demo:  # the demo is always its own throwaway database
        from .commands.common import refuse_outside_team_mode
        refuse_outside_team_mode(ctx)
    if ctx.invoked_subcommand is not None:
        return
    if not (accessible or demo):  # or the setting: accessible = true under [ui], HITL_UI_ACCESSIBLE=1
        accessible = settings.ui.accessible
    from .commands.common import team_desk

    remote = None if demo else team_desk(ctx)  # team mode: the service's connection, as this OS account
    if accessible:  # a transcript, not a screen: it needs no terminal and imports no Textual
        from .accessible import run_accessible

        sys.exit(run_accessible(db_path=db_path, settings=settings, service=remote))
    from .launch import run_tui  # the TUI's imports are paid only when it opens

    sys.exit(run_tui(db_path=db_path, demo=demo, settings=settings, service=remote))


def main(argv: list[str] | None = None) -> None:
    """Console-script entry: every HitlError becomes one line on stderr and exit status 1; the
    status a command sets with ctx.exit(N) (3: verification failed) is the process's status."""
    args = sys.argv[1:] if argv is None else list(argv)
    bad = _not_utf8(args)
    if bad:
        click.echo(f"hitl-tui: {bad}", err=True)
        sys.exit(2)
    try:
        # standalone_mode=False hands errors to the handlers below (one line each) and returns
        # the code of ctx.exit(N) instead of exiting: it must be passed on, or 3 becomes 0
        code = main_group.main(args=args, prog_name="hitl-tui", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted; nothing was changed.", err=True)
        sys.exit(1)
    except click.UsageError as exc:  # one line, like every other error; --help has the rest
        where = exc.ctx.command_path if exc.ctx else "hitl-tui"
        click.echo(f"{where}: {exc.format_message()} (see `{where} --help`)", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except HitlError as exc:
        click.echo(f"hitl-tui: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Interrupted; nothing was changed.", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


def _not_utf8(args: list[str]) -> str | None:
    """The one-line complaint about the first argument that is not UTF-8, or None.

    Python hands undecodable bytes over as lone surrogates (PEP 383); every later step (the
    database, the terminal, the error log) would fail on them with a traceback, so they are
    refused here, before any command runs. The argument is shown byte by byte, never raw."""
    for number, arg in enumerate(args, 1):
        try:
            arg.encode("utf-8")
            continue
        except UnicodeEncodeError:
            pass
        try:
            raw = os.fsencode(arg)  # the bytes as typed
        except UnicodeError:  # a surrogate that did not come from the OS (argv given in code)
            raw = arg.encode("utf-8", "surrogatepass")
        try:
            raw.decode("utf-8")
            where = ""
        except UnicodeDecodeError as exc:
            where = f" (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        shown = "".join(chr(b) if 0x20 <= b < 0x7F and b != 0x5C else f"\\x{b:02x}" for b in raw[:60])
        more = "..." if len(raw) > 60 else ""
        return (f"argument {number} '{shown}{more}' is not valid UTF-8 text{where}; nothing was done. "
                f"Give arguments in UTF-8 (check the terminal's or the script's encoding).")
    return None
