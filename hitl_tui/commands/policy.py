"""`hitl-tui policy`: the policy stored in the database (show, diff, apply).

Anyone who can open the database may look at the policy and compare a file with it (the chains
are no secret: `request types` lists them); only a user-directory administrator applies one.
The seed's LOW/MEDIUM/HIGH_RISK_EXPENSE_THRESHOLD variables are read here, by `diff` and
`apply`, as part of the policy being applied; nothing else reads them any more.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from .common import echo_json, guarded, me, open_service, safe

_FILE = click.Path(dir_okay=False, path_type=Path)


def warn_ignored_environment(*, honoured: tuple[str, ...] = ()) -> None:
    """One line on stderr when HITL_POLICY_FILE or a threshold variable is set but changes
    nothing (every command but `init`, `policy diff` and `policy apply`, which read the
    thresholds); cli.main_group calls it for the other commands and the desk. These variables
    are env-only facts, not settings (core/settings.py says why): read from os.environ here."""
    from ..core.policy import ignored_environment_warning

    note = ignored_environment_warning(os.environ, honoured=honoured)
    if note:
        click.echo(f"hitl-tui: {note}", err=True)


def _compose(path: Path) -> tuple[str, str]:
    from ..core.policy import EXPENSE_THRESHOLD_ENV, thresholds_from
    from ..core.policy_store import compose_text

    warn_ignored_environment(honoured=EXPENSE_THRESHOLD_ENV)
    return compose_text(path, thresholds_from(os.environ))


@click.group(short_help="Show, compare and apply the policy stored in the database.")
def policy() -> None:
    """The policy (workflow types, risk rules, approval chains, who may decide) is stored in the
    database, one numbered version per change. Only a user-directory administrator applies a new
    version; every version is an audit entry with its sha256, and every request records the
    version it was assessed under. No environment variable or file changes it for one process.

    FILE is laid over the built-in default (a [types.NAME] table adds or replaces a type; [access]
    and [compliance] keys replace the default's); LOW/MEDIUM/HIGH_RISK_EXPENSE_THRESHOLD, when
    set, replace the three expense thresholds of the result.

    \b
    Examples:
      hitl-tui policy show
      hitl-tui policy show --json
      hitl-tui policy diff our-policy.toml
      hitl-tui policy apply our-policy.toml
      HIGH_RISK_EXPENSE_THRESHOLD=40000 hitl-tui policy apply our-policy.toml
    """


@policy.command("show")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (the TOML as one string).")
@click.pass_context
@guarded
def show(ctx: click.Context, as_json: bool) -> None:
    """Print the policy in force: its version, sha256, who applied it and when, and the full TOML
    (which `policy diff` and `policy apply` accept back, to edit it).

    \b
    Examples:
      hitl-tui policy show
      hitl-tui policy show > policy.toml     # edit, then: hitl-tui policy diff policy.toml
    """
    warn_ignored_environment()
    with open_service(ctx) as service:
        stored = service.policy_in_force()
    if as_json:
        echo_json(stored.as_json())
        return
    if stored.from_database:
        click.echo(f"# version {stored.version}, sha256 {stored.sha256}")
        click.echo(f"# applied by {safe(stored.applied_by)} at {stored.applied_at} from {safe(stored.source)}")
    else:
        click.echo(f"# built-in default (no policy applied yet), sha256 {stored.sha256}")
        click.echo("# an administrator stores a version with `hitl-tui policy apply FILE`")
    click.echo(safe(stored.text, multiline=True), nl=False)


@policy.command("diff")
@click.argument("file", type=_FILE)
@click.pass_context
@guarded
def diff(ctx: click.Context, file: Path) -> None:
    """What applying FILE would change: a unified diff of the full policy, then one line naming
    the changed types, thresholds, chains and access rules. Exits 0 whether or not they differ
    (1 only when FILE or the database cannot be read).

    \b
    Example:
      hitl-tui policy diff our-policy.toml
    """
    from ..core.policy_store import summarize, unified_diff

    text, _source = _compose(file)
    with open_service(ctx) as service:
        stored = service.policy_in_force()
    import tomllib

    click.echo(safe(unified_diff(stored, text, str(file)), multiline=True), nl=False)
    click.echo(f"Summary: {safe(summarize(tomllib.loads(stored.text), tomllib.loads(text)))}")


@policy.command("apply")
@click.argument("file", type=_FILE)
@click.pass_context
@guarded
def apply(ctx: click.Context, file: Path) -> None:
    """Store FILE (laid over the built-in default, with the threshold variables if set) as the
    next policy version. Needs a user-directory administrator. FILE is checked whole first: a
    malformed one changes nothing. The version and its audit entry are written together.

    \b
    Examples:
      hitl-tui policy apply our-policy.toml
      LOW_RISK_EXPENSE_THRESHOLD=500 hitl-tui policy apply our-policy.toml
    """
    text, source = _compose(file)
    with open_service(ctx, writes=True) as service:
        stored, summary = service.apply_policy(text, source=source, actor=me())
        people = service.list_users()
    if summary is None:
        click.echo(f"Policy unchanged: version {stored.version} (sha256 {stored.sha256}) is already this text; "
                   f"nothing was written.")
        return
    click.echo(f"Applied policy version {stored.version} (sha256 {stored.sha256}) from {safe(source)}.")
    click.echo(f"Changes: {safe(summary)}")
    from ..core.stage_rules import shortfalls

    for short in shortfalls(stored.policy, people):  # allowed: such a stage waits until enough people are added
        click.echo(f"Note: {safe(short)}; until more are added, such a request cannot be approved.")
    click.echo("New requests and resubmissions are assessed under it; requests already filed keep their chains "
               "(who may decide a stage follows the new access rules).")
