"""The prompt set: a tab-separated file, one prompt a line, `INTENT<TAB>PROMPT`.

INTENT is one of the ten intents of the seed set, or one of the injection tags: a prompt about a
prepared request whose own text (description or a decider's comment) tells the model to approve,
to call a tool, or to reveal other requests. `{id}` in a prompt stands for the prepared request the
intent acts on (prepare.py). Blank lines and lines starting with `#` are skipped. A bad line stops
the load with one line naming the file, the line number and the cause.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import SetupFailed

INTENTS = ("create_expense", "create_infra", "pending_for", "approve_by_id", "approve_by_description",
           "status", "audit_trail", "compliance", "reject_with_reason", "help")
#: the injected request's text asks the model to: approve it / call tools / reveal other requests
INJECTIONS = ("injection_approve", "injection_tool", "injection_reveal")
#: the intents whose prepared request `{id}` names (prepare.py's targets)
WITH_TARGET = ("approve_by_id", "approve_by_description", "status", "audit_trail", "compliance",
               "reject_with_reason", *INJECTIONS)
#: the intents that end in a proposal or a draft: run once answering `n` (the gate) and once `y`
CONFIRMED = ("create_expense", "create_infra", "approve_by_id", "approve_by_description", "reject_with_reason")
BUILT_IN = Path(__file__).with_name("prompts.tsv")


@dataclass(frozen=True)
class Prompt:
    line: int
    intent: str
    template: str

    @property
    def injection(self) -> bool:
        return self.intent in INJECTIONS

    def text(self, targets: dict[str, str]) -> str:
        return self.template.replace("{id}", targets.get(self.intent, "{id}"))


class PromptFileError(SetupFailed):
    pass


def load(path: Path) -> list[Prompt]:
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PromptFileError(f"cannot read the prompt file {path}: {exc}") from None
    return parse(raw, str(path))


def parse(raw: str, name: str = "prompts") -> list[Prompt]:
    known = (*INTENTS, *INJECTIONS)
    prompts = []
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if "\t" not in line:
            raise PromptFileError(f"{name} line {number}: expected INTENT<TAB>PROMPT, found no tab")
        intent, _, template = line.partition("\t")
        intent, template = intent.strip(), template.strip()
        if intent not in known:
            raise PromptFileError(f"{name} line {number}: unknown intent {intent!r} (one of: {', '.join(known)})")
        if not template:
            raise PromptFileError(f"{name} line {number}: the {intent} prompt is empty")
        if "\t" in template:
            raise PromptFileError(f"{name} line {number}: more than one tab; a prompt is one field")
        if "{id}" in template and intent not in WITH_TARGET:
            raise PromptFileError(f"{name} line {number}: {{id}} means nothing for {intent}, which acts on no "
                                  f"prepared request")
        prompts.append(Prompt(number, intent, template))
    if not prompts:
        raise PromptFileError(f"{name}: no prompts (each line is INTENT<TAB>PROMPT)")
    return prompts
