"""`hitl-tui receipt` and `hitl-tui verify-receipt`: the signed statement of what became of a
request filed for approval, and checking one offline (core/receipts.py, docs/VERIFY.md 11)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from .common import EXIT_BROKEN, Failure, guarded, me, open_service, safe

#: a receipt file is small; anything much larger is not one
_MAX_FILE = 1024 * 1024


@click.command(short_help="Print (or -o write) the signed receipt of a request filed for approval.")
@click.argument("workflow_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the receipt to this file (refuses to overwrite one). Without it, print it.")
@click.pass_context
@guarded
def receipt(ctx: click.Context, workflow_id: str, output: Path | None) -> None:
    """The receipt of WORKFLOW_ID once it is approved, rejected, expired or cancelled: which
    payload (its sha256), the outcome, who decided in which role and when, the audit entry that
    settled it and the chain's hash after it, signed with the database's checkpoint key (a
    service's own in team mode). Anyone checks it offline with `hitl-tui verify-receipt FILE
    --key VKEY`, or `hitl_verify.py --receipt FILE --vkey VKEY`.

    \b
    Examples:
      hitl-tui receipt WF-1764150000-0421 -o refund-1234.receipt.json
      hitl-tui receipt WF-1764150000-0421 | jq .outcome
    """
    if output is not None and output.exists():
        raise Failure(f"{output} already exists; a receipt is evidence, so it is never overwritten. Choose a new name.")
    with open_service(ctx) as service:
        found = service.approvals.decision(me(), workflow_id)
        keys = service.approvals.receipt_keys()
    if found.receipt is None:
        if found.payload_sha256 is None:
            raise Failure(f"{found.request_id} was not filed for approval with a payload, so it has no receipt.")
        raise Failure(f"{found.request_id} is {found.outcome.value.replace('_', ' ')}: its receipt is signed once it is "
                      f"approved, rejected, expired or cancelled.")
    text = json.dumps(found.receipt, indent=2, sort_keys=True, ensure_ascii=True) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    _write_new(output, text)
    signer = f"; verifier key {_verifier_key(found.receipt, keys)}" if keys else ""
    click.echo(f"Receipt of {found.request_id} ({found.outcome.value} by {safe(found.decided_by)}) written to "
               f"{safe(output)}{signer}.")


@click.command("verify-receipt", short_help="Check a receipt offline: signature, key, and (--payload) the payload.")
@click.argument("receipt_file", metavar="FILE", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", "key_text", default=None, metavar="VKEY",
              help="The public key you trust: the verifier key `hitl-tui checkpoint` prints (or a file holding it), "
                   "or ed25519:HEX. Without it, the keys this database's checkpoints are signed with.")
@click.option("--payload", "payload_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A JSON file holding the payload about to be run: the receipt must be for exactly it.")
@click.option("--request", "request_id", default=None, metavar="WF-ID",
              help="The request you hold it for: a genuine receipt of another request fails.")
@click.pass_context
@guarded
def verify_receipt(ctx: click.Context, receipt_file: Path, key_text: str | None, payload_file: Path | None,
                   request_id: str | None) -> None:
    """Check that FILE is a genuine receipt: signed by the key you trust (--key; offline, no
    database opened), over exactly what it says, and, with --payload, for that very payload.
    Exit 0 when it is; 3 when it is forged, altered, signed by another key or for another
    payload (one line says which). With --request, it must be that request's; a verifier key
    (not a bare ed25519: key) also binds it to the database whose checkpoints the key signs.

    \b
    Examples:
      hitl-tui verify-receipt refund-1234.receipt.json --key "hitl-tui.local/6f1c...+1a2b3c4d+AQ..."
      hitl-tui verify-receipt refund-1234.receipt.json --key vkey.txt --payload refund-1234.json
    """
    from ..core import payloads, receipts

    data = _read_json(receipt_file, "receipt")
    digest = None
    if payload_file is not None:
        digest = payloads.sha256_of(read_payload(payload_file))
    database = None
    if key_text is not None:
        trusted = [_trusted_key(key_text)]
        database = receipts.database_of_key(_key_value(key_text))
    else:
        with open_service(ctx) as service:
            trusted = [bytes.fromhex(k) for k in service.approvals.receipt_keys()]
        if not trusted:
            raise Failure("No checkpoint key is known here to check the receipt against; give the one you trust "
                          "with --key VKEY (`hitl-tui checkpoint` prints it).")
    problems = [receipts.problem(data, key, digest, request_id=request_id.strip() if request_id else None,
                                 database_id=database) for key in trusted]
    if None not in problems:
        raise Failure(f"{receipt_file} is not a genuine receipt: {problems[0]}.", EXIT_BROKEN)
    role = f" ({data['decider_role']})" if data.get("decider_role") else ""
    click.echo(f"verified: {safe(data['request_id'])} {data['outcome']} by {safe(data['decided_by'])}{role} at "
               f"{safe(data['decided_at'])}; payload sha256 {data['payload_sha256']}; audit entry {data['audit_seq']}, "
               f"chain head {data['chain_head'][:16]}...")


def _key_value(text: str) -> str:
    """--key as given: the key itself, or the file holding it."""
    if len(text) < 4096 and os.path.isfile(text):
        return _read_text(Path(text), "key")
    return text


def _trusted_key(text: str) -> bytes:
    from ..core import receipts

    value = _key_value(text)
    try:
        return receipts.parse_key(value)
    except ValueError as exc:
        raise Failure(f"--key: {exc}.", 2) from None


def _read_text(path: Path, what: str, *, broken: bool = True) -> str:
    """The file's text; a file too large or not UTF-8 is one line (exit 3 when it is what is being
    verified, as a forged receipt is; else 1, as any bad input)."""
    code = EXIT_BROKEN if broken else 1
    try:
        if path.stat().st_size > _MAX_FILE:
            raise Failure(f"{safe(path)} is too large to be a {what} file.", code)
        return path.read_text("utf-8")
    except UnicodeDecodeError:
        raise Failure(f"{safe(path)} is not UTF-8 text, so it is no {what}.", code) from None


def read_payload(path: Path) -> Any:
    """A payload from a JSON file (`verify-receipt --payload`, `request-changes --payload`): a file
    that is not JSON, or too large, is one line."""
    return _read_json(path, "payload", broken=False)


def _read_json(path: Path, what: str, *, broken: bool = True) -> Any:
    """The JSON in `path`; a file that is not JSON is one line (exit 3 for a receipt: it fails)."""
    from ..core.errors import ValidationFailed
    from ..core.receipts import strict_json

    text = _read_text(path, what, broken=broken)
    try:
        return strict_json(text)
    except ValueError as exc:
        if broken:
            raise Failure(f"{safe(path)} is not a genuine receipt: it is not JSON ({exc}).", EXIT_BROKEN) from None
        raise ValidationFailed(f"{safe(path)} is not a JSON {what}: {exc}.", what) from None


def _verifier_key(found: dict[str, Any], keys: list[str]) -> str:
    from ..core.checkpoints import ORIGIN_PREFIX, verifier_key

    return verifier_key(ORIGIN_PREFIX + str(found["database_id"]), found["signature"]["public_key"])


def _write_new(path: Path, text: str) -> None:
    """The file, made new (never over another), complete or not at all."""
    from ..core.safe_files import write_new_file

    write_new_file(path, text.encode("utf-8"))
