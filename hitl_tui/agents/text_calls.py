"""Tool calls a model wrote as text, and <think> blocks it should have kept to itself.

Small local models served without a tool-call grammar (llama.cpp's `llama-server --jinja`, some
Ollama templates) often write the call into the reply instead of the structured `tool_calls`
field, in one of a few shapes:

    ```json
    {"name": "get_workflow_status", "arguments": {"workflow_id": "WF-1-2"}}
    ```
    <tool_call>{"name": ..., "arguments": ...}</tool_call>      (also <tools>...</tools>)
    {"name": ..., "arguments": ...}                              (bare, or a list of them)
    <function name="get_workflow_status" arguments='{"workflow_id": "WF-1-2"}'/>
    <function><name>get_workflow_status</name><arguments>{...} or <workflow_id>WF-1-2</workflow_id>
        </arguments></function>                                   (arguments as JSON or as tags)
    functions.get_workflow_status: {"workflow_id": "WF-1-2"}    (the whole reply; llama-cpp-python's
                                    chatml-function-calling format sends it back as text, often
                                    with no arguments at all)

tframex's own text parser (parse_text_tool_calls) only knows `name(key=value)` and only for whole
replies, so the model wrapper uses this module for both whole and streamed replies. Only an
object with a string "name" and an "arguments" (or "parameters") object counts as a call, so
prose that merely contains braces is left alone. What a call leaves behind (a fence or tag around
nothing but braces: Qwen2.5-Coder doubles the braces of the call, `{{"name": ...}}`, or answers
`<tools>{}</tools>` after the tool ran) is no answer either, and is dropped. Pure code: no
tframex, no httpx.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
# Where a text tool call may start: from here on, streamed text is held back until the reply ends.
_CALL_MARKERS = ("```", "<tool_call>", "<tools>", "<function", "functions.", "{", "[{")
# a fence or tag with nothing left inside but braces, brackets and commas (once the calls are out)
_WRAPPERS = re.compile(
    r"```[A-Za-z_]*[\s{}\[\],]*```|<(tool_call|tools|function_call)>[\s{}\[\],]*</\1>|\[\s*(?:,\s*)*\]", re.S)
_ONLY_WRAPPERS = re.compile(rf"(?:\s|{_WRAPPERS.pattern})*", re.S)
_FUNCTIONS_PREFIX = re.compile(r"\s*functions\.([A-Za-z_][\w.-]*):\s*")
_FUNCTION_ELEMENT = re.compile(r"<function>.*?</function>", re.S)
# the call as an XML-ish tag, its arguments a JSON object in a quoted attribute
_FUNCTION_TAG = re.compile(r"<function\s+name\s*=\s*([\"'])([\w.-]+)\1\s+(?:arguments|parameters)\s*=\s*([\"'])")
_THINK_BLOCK = re.compile(r"<think>.*?(?:</think>|\Z)\s*", re.S)


@dataclass(frozen=True)
class TextCall:
    name: str
    arguments: dict[str, Any]

    @property
    def arguments_json(self) -> str:
        return json.dumps(self.arguments, ensure_ascii=False)


def strip_think(text: str) -> str:
    """The reply without its <think> blocks (an unclosed one runs to the end)."""
    return _THINK_BLOCK.sub("", text)


def _as_call(value: Any) -> TextCall | None:
    if isinstance(value, dict) and isinstance(value.get("function"), dict) and "name" not in value:
        value = value["function"]  # {"type": "function", "function": {"name": ..., "arguments": ...}}
    if not isinstance(value, dict) or not isinstance(value.get("name"), str) or not value["name"].strip():
        return None
    args = value.get("arguments", value.get("parameters"))
    if isinstance(args, str):  # the OpenAI wire form: arguments as a JSON string
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError:
            return None
    if not isinstance(args, dict):
        return None
    return TextCall(value["name"].strip(), args)


def find_calls(text: str) -> tuple[list[TextCall], str]:
    """The tool calls written in `text`, and what is left of it once they (and their fences or
    tags) are taken out. No call found: ([], text) unchanged, or ([], "") when the text is only
    empty fences or tags."""
    decoder = json.JSONDecoder()
    prefixed = _functions_prefix(decoder, text)
    if prefixed:
        return [prefixed], ""
    calls: list[TextCall] = []
    kept: list[str] = []
    i = start = 0
    while i < len(text):
        if text[i] == "<" and (tag := _function_tag(decoder, text, i) or _function_element(text, i)):
            calls.append(tag[0])
            kept.append(text[start:i])
            i = start = tag[1]
            continue
        if text[i] != "{":
            i += 1
            continue
        try:
            value, end = decoder.raw_decode(text, i)
        except ValueError:
            i += 1
            continue
        call = _as_call(value)
        if call is None:
            i = end  # a JSON object that is not a call stays in the text
            continue
        calls.append(call)
        kept.append(text[start:i])
        i = start = end
    if not calls:
        return [], ("" if _ONLY_WRAPPERS.fullmatch(text) else text)
    kept.append(text[start:])
    rest = _WRAPPERS.sub("", "".join(kept))
    return calls, rest.strip()


def _function_tag(decoder: json.JSONDecoder, text: str, i: int) -> tuple[TextCall, int] | None:
    """`<function name="X" arguments='{...}'/>` at `i`: the call and where the tag ends."""
    tag = _FUNCTION_TAG.match(text, i)
    if not tag:
        return None
    try:
        args, end = decoder.raw_decode(text, tag.end())
    except ValueError:
        return None
    close = re.compile(rf"{re.escape(tag.group(3))}\s*(?:/>|>\s*</function>|>)").match(text, end)
    if not isinstance(args, dict) or not close:
        return None
    return TextCall(tag.group(2), args), close.end()


def _functions_prefix(decoder: json.JSONDecoder, text: str) -> TextCall | None:
    """A whole reply `functions.NAME:` with a JSON object after it, or nothing (the tool then
    refuses for want of arguments, and the model can try again): never an answer to show."""
    head = _FUNCTIONS_PREFIX.match(text)
    if not head:
        return None
    rest = text[head.end():].strip()
    if not rest:
        return TextCall(head.group(1), {})
    try:
        args, end = decoder.raw_decode(rest)
    except ValueError:
        return None
    return TextCall(head.group(1), args) if isinstance(args, dict) and not rest[end:].strip() else None


def _function_element(text: str, i: int) -> tuple[TextCall, int] | None:
    """`<function><name>X</name><arguments>...</arguments></function>` at `i`, the arguments a
    JSON object or one tag per argument (nested tags: an object)."""
    found = _FUNCTION_ELEMENT.match(text, i)
    if not found:
        return None
    try:
        element = ElementTree.fromstring(found.group(0))
    except ElementTree.ParseError:
        return None
    name = (element.findtext("name") or "").strip()
    given = element.find("arguments")
    if given is None:
        given = element.find("parameters")
    if not name:
        return None
    if given is None:
        return TextCall(name, {}), found.end()
    if len(given):
        return TextCall(name, _tags(given)), found.end()
    body = (given.text or "").strip()
    try:
        args = json.loads(body) if body else {}
    except ValueError:
        return None
    return (TextCall(name, args), found.end()) if isinstance(args, dict) else None


def _tags(element: ElementTree.Element) -> dict[str, Any]:
    return {child.tag: _tags(child) if len(child) else (child.text or "").strip() for child in element}


class StreamedText:
    """Filters a streamed reply: text goes out as it comes, except <think> blocks (dropped) and
    anything from where a text tool call may begin (held back, then parsed when the reply ends)."""

    def __init__(self) -> None:
        self._pending = ""
        self._thinking = False
        self._holding = False

    def feed(self, piece: str) -> str:
        """What of `piece` (and what was kept back before) may be shown now."""
        self._pending += piece
        out: list[str] = []
        while True:
            if self._thinking:
                end = self._pending.find(THINK_CLOSE)
                if end < 0:  # keep only what could be the start of the closing tag
                    self._pending = self._pending[-(len(THINK_CLOSE) - 1):]
                    return "".join(out)
                self._pending = self._pending[end + len(THINK_CLOSE):].lstrip()
                self._thinking = False
                continue
            if self._holding:
                return "".join(out)
            think = self._pending.find(THINK_OPEN)
            call = min((p for p in (self._pending.find(m) for m in _CALL_MARKERS) if p >= 0), default=-1)
            if think >= 0 and (call < 0 or think < call):
                out.append(self._pending[:think])
                self._pending = self._pending[think + len(THINK_OPEN):]
                self._thinking = True
                continue
            if call >= 0:
                out.append(self._pending[:call])
                self._pending = self._pending[call:]
                self._holding = True
                return "".join(out)
            keep = _partial_marker(self._pending)
            out.append(self._pending[: len(self._pending) - keep])
            self._pending = self._pending[len(self._pending) - keep:]
            return "".join(out)

    def finish(self) -> tuple[str, list[TextCall]]:
        """At the end of the reply: the text still to show, and the calls it held."""
        rest, self._pending = ("" if self._thinking else self._pending), ""
        if not self._holding:
            return rest, []
        calls, text = find_calls(strip_think(rest))
        return text, calls


def _partial_marker(text: str) -> int:
    """How many characters at the end of `text` could begin a marker ("<thi", "``")."""
    longest = 0
    for marker in (THINK_OPEN, *_CALL_MARKERS):
        for n in range(min(len(marker) - 1, len(text)), longest, -1):
            if text.endswith(marker[:n]):
                longest = n
                break
    return longest


__all__ = ["StreamedText", "TextCall", "find_calls", "strip_think"]
