"""The `hitl-tui` command: no sub-command opens the TUI; sub-commands are the operator CLI.

Sub-commands live one module each in hitl_tui/commands/ and are imported only when invoked, so
`hitl-tui` (the TUI) never pays for click commands, reports or the agents at start-up.
"""

from __future__ import annotations

import importlib
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
    "export-audit": "hitl_tui.commands.export:export_audit",
    "rekey": "hitl_tui.commands.rekey:rekey",
    "locate": "hitl_tui.commands.locate:locate",
    "ask": "hitl_tui.commands.ask:ask",
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


def _available(name: str) -> bool:
    module = COMMANDS[name].split(":")[0]
    return importlib.util.find_spec(module) is not None


@click.group(cls=LazyGroup, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--db", "db_path", type=click.Path(dir_okay=False), envvar="HITL_DB_PATH",
              help="Database file (default: hitl.db in the data directory; `hitl-tui locate` prints it).")
@click.option("--demo", is_flag=True, help="Open the guided demo on a throwaway database.")
@click.version_option(package_name="hitl-tui", prog_name="hitl-tui")
@click.pass_context
def main_group(ctx: click.Context, db_path: str | None, demo: bool) -> None:
    """hitl-tui: the approval desk. With no command, opens the full-screen inbox."""
    ctx.ensure_object(dict)
    ctx.obj["db_path"] = db_path
    if ctx.invoked_subcommand is not None:
        return
    from .launch import run_tui  # the TUI's imports are paid only when it opens

    sys.exit(run_tui(db_path=db_path, demo=demo))


def main(argv: list[str] | None = None) -> None:
    """Console-script entry: every HitlError becomes one line on stderr and exit status 1."""
    try:
        main_group.main(args=argv, prog_name="hitl-tui", standalone_mode=False)
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
