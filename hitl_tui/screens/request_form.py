"""New request (n), edit-and-resubmit (e) and agent drafts: one form, built from the policy.

Fields come from the workflow type's FieldSpecs; each is checked as you type with the policy's
own parser (so the form and the engine agree), and a live preview shows the risk level and the
approval chain the request would get. Returns a typed result; the desk files it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.markup import escape
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Select, Static, TextArea

from ..core.errors import ValidationFailed
from ..core.models import Approval, WorkflowRequest
from ..core.policy import DESCRIPTION_MAX, TITLE_MAX, FieldSpec, Policy
from ..render.text import local_time, plain, risk_badge


@dataclass(frozen=True)
class FormResult:
    workflow_type: str
    title: str
    description: str
    data: dict[str, Any]
    comments: str = ""
    #: set when resubmitting an existing request
    workflow_id: str | None = None


@dataclass
class FormSeed:
    """What the form starts with: empty, a request being edited, or an agent's draft."""

    workflow_type: str | None = None
    title: str = ""
    description: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    workflow_id: str | None = None
    drafted_by: str | None = None
    missing: tuple[str, ...] = ()
    #: when resubmitting: the reviewer's request for changes, shown above the fields
    change_request: Approval | None = None
    #: the resubmission's comment typed before (the form came back after a write that did not go through)
    comments: str = ""

    @classmethod
    def from_result(cls, result: "FormResult", before: "FormSeed | None") -> "FormSeed":
        """What the person had typed, to open the form again with."""
        return cls(result.workflow_type, result.title, result.description, {k: str(v) for k, v in result.data.items()},
                   workflow_id=result.workflow_id, drafted_by=before.drafted_by if before else None,
                   change_request=before.change_request if before else None, comments=result.comments)

    @classmethod
    def from_request(cls, req: WorkflowRequest) -> "FormSeed":
        return cls(req.workflow_type, req.title, req.description,
                   {k: str(v) for k, v in req.data.items()}, workflow_id=req.id,
                   change_request=req.change_request)


def attention(count: int) -> str:
    """'1 field needs attention', '3 fields need attention'."""
    return f"{count} field needs attention" if count == 1 else f"{count} fields need attention"


def asked_for(change: Approval) -> Text:
    """Who sent the request back, when, and what they asked for: the edit answers it."""
    out = Text(end="")
    out.append_text(plain(change.approver, "bold"))
    out.append(f" ({change.approver_role.label}) asked for changes on {local_time(change.decided_at, micro=False)}:\n",
               style="bold")
    out.append_text(plain(change.comments or "(no comment)", single_line=False))
    return out


class DiscardModal(ModalScreen[bool]):
    """Asked when escape would throw away what was typed into the form: True discards."""

    DEFAULT_CSS = """
    DiscardModal #discard-body { height: auto; margin-bottom: 1; }
    DiscardModal #discard-buttons { height: auto; }
    DiscardModal Button { margin-right: 2; }
    """
    BINDINGS = [
        Binding("escape,k", "keep", "Keep editing", id="form.discard.keep"),
        Binding("d", "discard", "Discard", id="form.discard.discard"),
    ]

    def __init__(self, what: str) -> None:
        super().__init__(classes="dialog-screen")
        self.what = what

    def compose(self) -> ComposeResult:
        with Vertical(id="discard-dialog", classes="dialog") as box:
            box.styles.width = 64  # a question, not a form: the app's .dialog width is for forms
            box.border_title = "Discard this request?"
            box.border_subtitle = "d discard · escape keep editing"
            yield Static(Text(self.what), id="discard-body")
            with Horizontal(id="discard-buttons"):
                yield Button("Keep editing", id="discard-keep", variant="primary", compact=True)
                yield Button("Discard", id="discard-discard", variant="error", compact=True)

    def on_mount(self) -> None:
        self.query_one("#discard-keep", Button).focus()  # enter keeps: the safe answer

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "discard-discard")

    def action_keep(self) -> None:
        self.dismiss(False)

    def action_discard(self) -> None:
        self.dismiss(True)


def check_title(value: str) -> str | None:
    text = value.strip()
    if not text:
        return "A title is required."
    if len(text) > TITLE_MAX:
        return f"At most {TITLE_MAX} characters ({len(text)} now)."
    return None


class RequestForm(ModalScreen[FormResult | None]):
    DEFAULT_CSS = """
    RequestForm #form-asked {
        height: auto;
        max-height: 8;
        margin-bottom: 1;
        border-left: thick $warning;
        padding-left: 1;
        background: $boost;
        scrollbar-size-vertical: 1;
    }
    RequestForm #form-asked-text { height: auto; }
    """
    BINDINGS = [
        Binding("ctrl+s", "submit", "Submit", priority=True, id="form.submit"),
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
    ]

    def __init__(self, policy: Policy, seed: FormSeed | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.policy = policy
        self.seed = seed or FormSeed()
        self.resubmit = self.seed.workflow_id is not None
        known = self.seed.workflow_type if self.seed.workflow_type in policy.types else None
        self.workflow_type: str = known or next(iter(policy.types))
        self.touched: set[str] = set(self.seed.data) | ({"title"} if self.seed.title else set())
        self.submitted = False
        #: what the form held when it opened, for the discard question (set on mount)
        self._opened_with: tuple | None = None

    # --- layout --------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Vertical(id="form-dialog", classes="dialog") as box:
            box.border_title = (f"Edit and resubmit {escape(self.seed.workflow_id)}" if self.resubmit
                                else "New request")
            box.border_subtitle = "ctrl+s submit · escape cancel"
            if self.seed.drafted_by:
                note = Text("Drafted by agent ", style="magenta", end="")
                note.append_text(plain(self.seed.drafted_by, "bold magenta"))
                note.append(": check every field; nothing is filed until you press ctrl+s.", style="magenta")
                yield Static(note, id="form-draft-note")
            if self.seed.change_request is not None:
                # a long request for changes scrolls in its own box (tab reaches it) rather than
                # pushing the fields off the screen or being cut without a sign
                with VerticalScroll(id="form-asked"):
                    yield Static(asked_for(self.seed.change_request), id="form-asked-text")
            with VerticalScroll(id="form-fields"):
                yield Static("Type", classes="form-label")
                options = [(Text(t.name), key) for key, t in self.policy.types.items()]
                yield Select(options, value=self.workflow_type, allow_blank=False, id="form-type",
                             compact=True, disabled=self.resubmit)
                yield Static("", id="form-type-help", classes="form-help", markup=False)
                yield Static("Title *", classes="form-label", markup=False)
                yield Input(self.seed.title, id="form-title", compact=True, max_length=TITLE_MAX + 50)
                yield Static("", id="error-title", classes="form-error", markup=False)
                yield Vertical(id="form-type-fields")
                yield Static("Description", classes="form-label")
                yield TextArea(self.seed.description, id="form-description", compact=True, soft_wrap=True)
                yield Static("", id="error-description", classes="form-error", markup=False)
                if self.resubmit:
                    yield Static("What did you change? (optional, for the approvers)", classes="form-label",
                                 markup=False)
                    yield Input(self.seed.comments, id="form-comments", compact=True)
            yield Static("", id="form-preview")

    async def on_mount(self) -> None:
        await self._build_fields(self.seed.data)
        (self.query_one("#form-title", Input) if self.resubmit or self.seed.drafted_by
         else self.query_one("#form-type", Select)).focus()
        # an edit loses nothing when left unchanged; a new request (or an agent's draft) loses
        # whatever it holds
        self._opened_with = self._content() if self.resubmit else ("", "", (), "")

    def _content(self) -> tuple:
        comments = self.query_one("#form-comments", Input).value.strip() if self.resubmit else ""
        return (self.query_one("#form-title", Input).value.strip(),
                self.query_one("#form-description", TextArea).text.strip(),
                tuple(sorted(self._data().items())), comments)

    @property
    def dirty(self) -> bool:
        """Something typed here would be lost by closing the form."""
        return self._opened_with is not None and self._content() != self._opened_with

    async def _build_fields(self, values: dict[str, Any]) -> None:
        wtype = self.policy.types[self.workflow_type]
        self.query_one("#form-type-help", Static).update(plain(wtype.description, "dim"))
        box = self.query_one("#form-type-fields", Vertical)
        await box.remove_children()  # awaited: the new fields reuse ids like #field-amount
        widgets = []
        for spec in wtype.fields:
            label = f"{spec.label}{' *' if spec.required else ''}"
            widgets.append(Static(label, classes="form-label", markup=False))
            raw = values.get(spec.name)
            if spec.kind == "choice":
                options = [(Text(c.replace("_", " ")), c) for c in spec.choices]
                start = raw if raw in spec.choices else Select.NULL
                widgets.append(Select(options, value=start, allow_blank=not spec.required or start is Select.NULL,
                                      id=f"field-{spec.name}", compact=True, prompt="choose…"))
            else:
                placeholder = spec.help or ("e.g. 15000 or 15,000.00" if spec.kind == "money" else "")
                widgets.append(Input("" if raw is None else str(raw), id=f"field-{spec.name}", compact=True,
                                     placeholder=placeholder))
            hint = "the agent could not fill this in" if spec.name in self.seed.missing else ""
            widgets.append(Static(hint, id=f"error-{spec.name}", classes="form-error", markup=False))
        await box.mount_all(widgets)
        self._validate()

    # --- reading and checking ------------------------------------------------------------------

    def _specs(self) -> tuple[FieldSpec, ...]:
        return self.policy.types[self.workflow_type].fields

    def _raw(self, spec: FieldSpec) -> str:
        try:
            widget = self.query_one(f"#field-{spec.name}")
        except Exception:  # fields are being rebuilt for another type
            return ""
        if isinstance(widget, Select):
            return "" if widget.value is Select.NULL or widget.value is Select.BLANK else str(widget.value)
        return widget.value.strip()

    def _data(self) -> dict[str, str]:
        return {s.name: self._raw(s) for s in self._specs() if self._raw(s)}

    def _errors(self) -> dict[str, str]:
        errors: dict[str, str] = {}
        title_problem = check_title(self.query_one("#form-title", Input).value)
        if title_problem:
            errors["title"] = title_problem
        if len(self.query_one("#form-description", TextArea).text) > DESCRIPTION_MAX:
            errors["description"] = f"At most {DESCRIPTION_MAX:,} characters."
        for spec in self._specs():
            raw = self._raw(spec)
            if not raw:
                if spec.required:
                    errors[spec.name] = f"{spec.label} is required" + (f" ({spec.help})." if spec.help else ".")
                continue
            try:
                spec.parse(raw)
            except ValidationFailed as exc:
                errors[spec.name] = str(exc)
        return errors

    def _validate(self) -> dict[str, str]:
        errors = self._errors()
        for name in ["title", "description", *(s.name for s in self._specs())]:
            try:
                label = self.query_one(f"#error-{name}", Static)
            except Exception:
                continue
            shown = errors.get(name) if (self.submitted or name in self.touched) else None
            if shown:
                label.update(Text(f"✘ {shown}", style="bold red"))
            elif name in self.seed.missing and name not in self.touched:
                label.update(Text("the agent could not fill this in", style="magenta"))
            else:
                label.update("")
        self._preview(errors)
        return errors

    def _preview(self, errors: dict[str, str]) -> None:
        preview = self.query_one("#form-preview", Static)
        field_errors = {k: v for k, v in errors.items() if k not in ("title", "description")}
        if field_errors:
            first = next(s for s in self._specs() if s.name in field_errors)
            preview.update(Text(f"Risk and chain appear once {first.label} is valid.", style="dim italic"))
            return
        try:
            a = self.policy.assess(self.workflow_type, self._data())
        except ValidationFailed as exc:  # the policy knows a rule the per-field check did not
            preview.update(plain(str(exc), "red"))
            return
        text = Text("Preview  ", style="bold", end="")
        text.append_text(risk_badge(a.risk_level))
        text.append("  ")
        text.append_text(plain(a.risk_reason))
        text.append("\nChain    ", style="bold")
        text.append(" → ".join(r.label for r in a.chain))
        text.append(f"  ({len(a.chain)} stage{'s' if len(a.chain) != 1 else ''})", style="dim")
        preview.update(text)

    # --- events --------------------------------------------------------------------------------

    @on(Select.Changed, "#form-type")
    async def _type_changed(self, event: Select.Changed) -> None:
        event.stop()
        if event.value in self.policy.types and event.value != self.workflow_type:
            kept = self._data()
            self.workflow_type = str(event.value)
            self.touched &= {"title", "description"}
            await self._build_fields(kept)

    @on(Input.Changed)
    @on(Select.Changed)
    def _changed(self, event: Input.Changed | Select.Changed) -> None:
        widget_id = event.control.id or ""
        if widget_id.startswith("field-"):
            self.touched.add(widget_id[len("field-"):])
        elif widget_id == "form-title":
            self.touched.add("title")
        self._validate()

    @on(TextArea.Changed)
    def _text_changed(self) -> None:
        self._validate()

    @on(Input.Submitted)
    def _next_field(self, event: Input.Submitted) -> None:
        event.stop()
        self.focus_next()

    def action_submit(self) -> None:
        self.submitted = True
        errors = self._validate()
        if errors:
            first = next(iter(errors))
            target = {"title": "#form-title", "description": "#form-description"}.get(first, f"#field-{first}")
            try:
                self.query_one(target).focus()
            except Exception:
                pass
            self.notify(f"{attention(len(errors))}: {errors[first]}", severity="warning", markup=False)
            return
        comments = self.query_one("#form-comments", Input).value.strip() if self.resubmit else ""
        self.dismiss(FormResult(
            workflow_type=self.workflow_type,
            title=self.query_one("#form-title", Input).value.strip(),
            description=self.query_one("#form-description", TextArea).text.strip(),
            data=self._data(), comments=comments, workflow_id=self.seed.workflow_id,
        ))

    def action_cancel(self) -> None:
        if not self.dirty:
            self.dismiss(None)
            return
        what = (f"Your changes to {self.seed.workflow_id} are lost; the request stays as it was."
                if self.resubmit else "What you typed into this form is lost; nothing is filed.")
        self.app.push_screen(DiscardModal(what), lambda discard: self.dismiss(None) if discard else None)
