"""The accessible desk's commands: one typed line in, plain lines out.

State is what the full-screen desk keeps: the view, the filter, the sort, and the rows last
listed, numbered from 1 so that `show 3` or `approve 3` names a row (row numbers stay as listed
until the next `list`, so a number never silently changes meaning). Every read and write is the
engine's (WorkflowService); every permission is core's rbac, checked first as a courtesy (so a
refusal comes before any confirmation) and again by the engine inside its write transaction.
A decision happens only after its word is typed at the confirmation: AI never decides, and
neither does a stray line.
"""

from __future__ import annotations

import shlex
from datetime import datetime
from typing import Any, Callable, Literal

from ..commands.common import log_traceback
from ..commands.common import safe
from ..core import rbac
from ..core.errors import HitlError, StoreError, ValidationFailed
from ..core.decisions import TERMS
from ..core.filter_query import SORT_KEYS, parse_sort
from ..core.text import refuse_invalid
from ..core.models import Decision, InboxView, RequestSummary, User, WorkflowRequest
from ..core.workflow import Action
from ..render.text import utc_now
from . import transcript
from .changes import ChangeFeed
from .console import CANCELLED, Console, TerminalGone

PAGE = 10
VIEWS = {"awaiting": InboxView.AWAITING_ME, "mine": InboxView.MINE, "all": InboxView.VISIBLE,
         "decided": InboxView.DECIDED}
VIEW_NAMES = {InboxView.AWAITING_ME: "Awaiting me", InboxView.MINE: "My requests",
              InboxView.VISIBLE: "All I may see", InboxView.DECIDED: "Decided by me"}
#: the decision commands (each also the word typed to confirm): the engine's decision, the text asked for
DECISIONS = {
    "approve": (Decision.APPROVE, "comment (optional)"),
    "reject": (Decision.REJECT, "reason (required: the requester sees it)"),
    "changes": (Decision.REQUEST_CHANGES, "what should change (required)"),
}
ALIASES = {"ls": "list", "more": "next", "open": "show", "exit": "quit", "q": "quit", "?": "help",
           "request-changes": "changes", "search": "filter"}

HELP = """\
Commands (a row number N is from the last list; an id like WF-1764150000-7892 works too):
  list [VIEW]           list the current view, or switch to VIEW first; rows are numbered.
  next, more            the next rows of the list.
  show [N]              the request in full: fields, risk, approval chain, compliance flags,
                        audit trail. Without N: the request shown last, read again.
  approve N [COMMENT]   approve the stage that waits for you; you type approve to confirm.
  reject N [REASON]     reject; a reason is required; you type reject to confirm.
  changes N [COMMENT]   send it back for changes; a comment is required; type changes to confirm.
  withdraw N [REASON]   withdraw a request you filed; you type withdraw to confirm.
  view VIEW             switch view: awaiting (for you to decide), mine (you filed),
                        all (everything you may see), decided (by you).
  filter [TEXT]         words, or key:value filters as in the desk (risk:high type:expense
                        requester:NAME age:>2d ...); filter alone clears it.
  sort ORDER            oldest, newest, risk, or a column (title, requester, value, stage...);
                        a - before it reverses (sort -value: largest first).
  verify                re-check the whole audit chain.
  help                  this text.
  quit                  end the session (ctrl-d too); it is sealed with a signed checkpoint.
An empty line checks for news: requests newly waiting for you and decisions on yours are
announced between commands. Ctrl-c cancels the line being typed."""


class Desk:
    def __init__(self, service, username: str, console: Console,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.service = service
        self.username = username
        self.console = console
        self.clock = clock
        self.view = InboxView.AWAITING_ME
        self.search: str | None = None
        self.sort = "oldest"
        self.rows: list[RequestSummary] = []
        self.total = 0
        self.last_shown: str | None = None
        #: set when input ended in the middle of a command (a confirmation): the session ends
        self.ended = False
        self.feed = ChangeFeed(service, username)

    # --- the loop's entry point ------------------------------------------------------------

    def run_line(self, line: str) -> bool:
        """Run one typed line; False when the session should end."""
        words = line.strip().split(None, 1)
        name = ALIASES.get(words[0].lower(), words[0].lower()) if words else ""
        rest = words[1].strip() if len(words) > 1 else ""
        if name == "quit":
            return False
        handler = getattr(self, f"do_{name}", None) if name.isalpha() else None
        if words and handler is None:
            self.say(f"Unknown command {safe(words[0])}; type help for the commands.")
            return True
        try:
            if handler is None:  # an empty line: only the news
                if not self.announce():
                    self.say("Nothing new.")
                return True
            handler(rest)
            self.announce()
        except TerminalGone:
            raise
        except StoreError as exc:  # the database could not do it (busy, full, gone): nothing was written
            self.say(f"Not done: {one_line(exc)}")
        except HitlError as exc:  # a rule said no: the engine's own sentence
            self.say(f"Refused: {one_line(exc)}")
        except Exception as exc:  # noqa: BLE001 - one line and the session goes on, never a traceback
            self.say(f"Unexpected error {type(exc).__name__}; that command did nothing more ({log_traceback()}).")
        return not self.ended

    def say(self, text: str = "") -> None:
        self.console.say(text)

    def ask(self, prompt: str, *, remember: bool = True) -> str | None:
        answer = self.console.ask(prompt, remember=remember)
        if answer is None:
            self.ended = True
        return "" if answer == CANCELLED else answer  # ctrl-c at a question: no answer, so no decision

    @property
    def user(self) -> User:
        return self.service.get_user(self.username)  # fresh: a role or activation may change

    # --- the inbox -------------------------------------------------------------------------

    def do_help(self, rest: str) -> None:
        self.say(HELP)

    def do_list(self, rest: str) -> None:
        if rest and not self._set_view(rest):
            return
        self.announce()
        self.list_page()

    def do_view(self, rest: str) -> None:
        if not rest:
            self.say(f"The view is {VIEW_NAMES[self.view]}; choose awaiting, mine, all or decided.")
            return
        if self._set_view(rest):
            self.list_page()

    def do_filter(self, rest: str) -> None:
        try:
            self.service.parse_filter(rest or None)  # a filter that cannot be read replaces nothing
        except HitlError as exc:
            self.say(f"{safe(str(exc))} The filter stays {safe(self.search) if self.search else 'off'}.")
            return
        self.search = rest or None
        self.say(f"Filter: {safe(rest)}." if rest else "Filter cleared.")
        self.list_page()

    def do_sort(self, rest: str) -> None:
        """Any order the desk has (core's vocabulary): oldest, newest, risk, a column, -column."""
        try:
            self.sort = parse_sort(rest or "oldest").spec
        except HitlError:
            self.say(f"Sort by oldest, newest, or one of {', '.join(SORT_KEYS)}, with - before it to reverse "
                     f"(not {safe(rest) or 'nothing'}).")
            return
        self.list_page()

    def do_next(self, rest: str) -> None:
        if not self.rows and not self.total:
            self.list_page()
            return
        if len(self.rows) >= self.total:
            self.say(f"No more rows: all {self.total} of {VIEW_NAMES[self.view]} are listed. "
                     f"Type list to start again.")
            return
        self.list_page(more=True)

    def _set_view(self, word: str) -> bool:
        view = VIEWS.get(word.lower())
        if view is None:
            try:  # the engine's own names (awaiting_me, visible) are fine too
                view = InboxView.parse(word)
            except HitlError:
                self.say(f"Unknown view {safe(word)}; choose awaiting, mine, all or decided.")
                return False
        self.view = view
        return True

    def list_page(self, *, more: bool = False) -> None:
        svc, me = self.service, self.username
        offset = len(self.rows) if more else 0
        page = svc.list_requests(me, self.view, search=self.search, sort=self.sort, limit=PAGE, offset=offset)
        if not more:
            self.total = svc.count_requests(me, self.view, search=self.search)
            self.rows = []
        order = parse_sort(self.sort)
        words = SORT_KEYS[order.key].reverse if order.reverse else SORT_KEYS[order.key].natural
        where = f"{VIEW_NAMES[self.view]}, " + (words if order.key == "created" else
                                                f"sorted by {order.label.lower()}")
        if self.search:
            where += f", filtered by {safe(self.search)}"
        if not more:
            count = self.total
            self.say(f"{where}: {count} request{'s' if count != 1 else ''}." if count
                     else f"{where}: no requests." + (" Type filter alone to clear the filter." if self.search else ""))
        now = self.clock()
        for row in page:
            self.rows.append(row)
            self.say(transcript.row_line(len(self.rows), row, now))
        if page:
            self.total = max(self.total, len(self.rows))
            tail = " Type next for more." if len(self.rows) < self.total else ""
            self.say(f"Rows {offset + 1} to {len(self.rows)} of {self.total}.{tail}")
        elif more:
            self.say("No more rows.")

    # --- one request -----------------------------------------------------------------------

    def resolve(self, token: str) -> str | None:
        """A row number from the last list, or an id as typed (the engine says if it exists)."""
        if token.isdigit() and token.isascii():
            n = int(token)
            if 1 <= n <= len(self.rows):
                return self.rows[n - 1].id
            listed = f"the list has rows 1 to {len(self.rows)}" if self.rows else "nothing is listed yet"
            self.say(f"There is no row {n}: {listed}. Type list to see the rows.")
            return None
        return token

    def ref(self, req: WorkflowRequest) -> str:
        for n, row in enumerate(self.rows, 1):
            if row.id == req.id:
                return str(n)
        return req.id

    def do_show(self, rest: str) -> None:
        token = rest.split(None, 1)[0] if rest else self.last_shown
        if token is None:
            self.say("Show which request? Type show N, with N a row number from list, or an id.")
            return
        wid = self.resolve(token)
        if wid is None:
            return
        svc, me = self.service, self.username
        req = svc.get_workflow_for(me, wid)
        trail = svc.get_audit_trail_for(me, req.id)
        from ..core.reports.flags import gather_flags  # the one gatherer (desk, agents, exports)

        flags = gather_flags(svc, me, req).as_json()
        self.last_shown = req.id
        for line in transcript.detail_lines(req, self.user, svc.policy, svc.list_users(), flags, trail,
                                            self.clock(), self.ref(req)):
            self.say(line)

    # --- decisions -------------------------------------------------------------------------

    def do_approve(self, rest: str) -> None:
        self._decide("approve", rest)

    def do_reject(self, rest: str) -> None:
        self._decide("reject", rest)

    def do_changes(self, rest: str) -> None:
        self._decide("changes", rest)

    def _target(self, word: str, rest: str) -> tuple[WorkflowRequest, str] | None:
        parts = rest.split(None, 1)
        if not parts:
            self.say(f"{word.capitalize()} which request? Type {word} N, with N a row number from list, or an id.")
            return None
        wid = self.resolve(parts[0])
        if wid is None:
            return None
        req = self.service.get_workflow_for(self.username, wid)
        return req, (parts[1].strip() if len(parts) > 1 else "")

    def _decide(self, word: str, rest: str) -> None:
        decision, wanted = DECISIONS[word]
        found = self._target(word, rest)
        if found is None:
            return
        req, text = found
        svc = self.service
        people = svc.list_users()
        words = TERMS[decision]
        rbac.check_decide(svc.policy, self.user, req, words.action)  # refused here, before any question
        self.say(f"{word.capitalize()} {transcript.summary_line(req, svc.policy)}")
        if not text and words.comment_required:
            self.say(f"Type the {wanted}:")
            text = (self.ask(f"{word} {wanted.split(' (')[0]}: ", remember=False) or "").strip()
            if self.ended:
                self.say("Cancelled; nothing was decided.")
                return
            if not text:
                self.say(f"{words.comment_missing} is required, so {safe(req.requester)} knows what to do; nothing was decided.")
                return
        if text:
            refuse_invalid(text, words.comment_name)  # before the question
            self.say(f"Your {wanted.split(' (')[0]}: {safe(text)}")
        revised = self._revision(req) if decision is Decision.REQUEST_CHANGES else None
        if revised is False:
            return
        self.say(transcript.consequence(req, decision, svc.policy, people))
        if not self.confirm(word):
            return
        from ..commands.keys import reauth_prompt  # the policy's re-authentication at signing asks here

        done = svc.decide(req.id, self.username, decision, text, unlock=reauth_prompt(self.username),
                          payload=revised or None)
        self.say(f"{words.done} {safe(done.id)} ({safe(done.title)}); {transcript.outcome(done)}.")

    def _revision(self, req: WorkflowRequest) -> dict[str, Any] | None | Literal[False]:
        """On a request filed for approval: the revised payload the reviewer proposes (None: none;
        False: what was typed is not one, said in one line, and nothing is decided)."""
        import json

        from ..core.payloads import checked

        if req.filing is None or req.filing.payload is None:
            return None
        self.say("Propose a revised payload? Type it as one line of JSON, or press enter to leave it as filed:")
        typed = (self.ask("revised payload: ", remember=False) or "").strip()
        if self.ended or not typed:
            return None
        try:
            value = json.loads(typed)
            if checked(value).sha256 == req.filing.payload_sha256:
                return None
        except json.JSONDecodeError as exc:
            self.say(f"That is not JSON ({exc.msg} at column {exc.colno}); nothing was decided.")
            return False
        except ValidationFailed as exc:
            self.say(f"That payload could not be filed: {exc} Nothing was decided.")
            return False
        self.say(f"Your proposed payload: {safe(json.dumps(value, sort_keys=True, ensure_ascii=False))} "
                 f"({safe(req.requester)} must accept it before anyone approves it)")
        return value if isinstance(value, dict) else None

    def do_withdraw(self, rest: str) -> None:
        found = self._target("withdraw", rest)
        if found is None:
            return
        req, reason = found
        rbac.check_requester_action(self.user, req, Action.WITHDRAW)
        self.say(f"Withdraw {transcript.summary_line(req, self.service.policy)}")
        if reason:
            refuse_invalid(reason, "reason")
            self.say(f"Your reason: {safe(reason)}")
        self.say(transcript.consequence(req, None, self.service.policy, []))
        if not self.confirm("withdraw"):
            return
        done = self.service.withdraw_workflow(req.id, self.username, reason)
        self.say(f"Withdrew {safe(done.id)} ({safe(done.title)}); {transcript.outcome(done)}.")

    def confirm(self, word: str) -> bool:
        """The human's explicit act: the decision's own word, typed; anything else cancels."""
        self.say(f"Type {word} to confirm; anything else cancels.")
        answer = self.ask("confirm: ", remember=False)
        if answer is not None and answer.strip().lower() == word:
            return True
        self.say("Cancelled; nothing was decided.")
        return False

    # --- the audit chain -------------------------------------------------------------------

    def do_verify(self, rest: str) -> None:
        self.say("Verifying the whole audit chain...")
        self.say(verified_line(self.service.verify_audit()))

    # --- news ------------------------------------------------------------------------------

    def announce(self) -> bool:
        """Say what others changed since the last look; True if there was anything."""
        changes = self.feed.poll()
        for change in changes[:5]:
            self.say(safe(change.text))
        if len(changes) > 5:
            self.say(f"And {len(changes) - 5} more changes; type list to see the current state.")
        return bool(changes)


def verified_line(result) -> str:
    text = result.summary()
    return text[:1].upper() + text[1:] + "."


def one_line(exc: BaseException) -> str:
    return safe(" ".join(str(exc).split()))


def add_user_line(username: str) -> str:
    return f"hitl-tui users add {shlex.quote(username)} --role ROLE"


COMMAND_WORDS = sorted({"list", "next", "more", "show", "approve", "reject", "changes", "withdraw", "view",
                        "filter", "sort", "verify", "help", "quit"})
