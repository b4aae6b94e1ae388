"""The model wrapper: tframex's OpenAIChatLLM with its HTTP exchange done here, so that real
servers' habits are handled and every failure is raised instead of dressed up as an answer.

OpenAIChatLLM turns a network failure or an HTTP error into an assistant message whose content
is the error text, lets a stream that breaks off or hangs end as a short (or empty) answer, and
sends an assistant tool-call message without `content`, which llama-cpp-python's server refuses
with HTTP 500. So this class keeps the library's client and its Message / ToolCall types, and
makes the request itself:

- messages as the common OpenAI-compatible servers (llama.cpp, llama-cpp-python, vLLM, Ollama)
  accept them: an assistant message always carries a string `content` ("" beside tool calls);
- temperature and a reply budget that fits the model's context (the `temperature` and
  `context` settings), rather than the library's 0.7 and 4096 tokens;
- tool calls the model wrote as text, and <think> blocks, handled for whole and streamed replies
  alike (text_calls.py): the calls run, the text of them and the thinking never reach the chat;
- any failure, at any point of any request of a turn (refused connection, HTTP error status, a
  stream that ends without finishing, a read that times out, a reply that is not a chat
  completion) raises ModelUnavailable, which the session shows as TurnFailed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any, AsyncGenerator

import httpx

from .text_calls import StreamedText, TextCall, find_calls, strip_think
from .tfx import FunctionCall, Message, MessageChunk, OpenAIChatLLM, ToolCall

log = logging.getLogger("tframex.hitl.model")  # under `tframex`: goes to agents.log only

#: the longest reply asked for, and the least (a reply budget below it is not worth asking for)
MAX_REPLY_TOKENS = 2048
MIN_REPLY_TOKENS = 256
#: a rough, deliberately generous count: about three characters a token for JSON-heavy prompts
CHARS_PER_TOKEN = 3
# what tframex may pass on to the API among its call keywords
_API_KEYS = ("tools", "tool_choice", "max_tokens", "temperature")


class ModelUnavailable(Exception):
    """The model could not answer; the message says why in words for the person at the keyboard."""


class CheckedOpenAIChatLLM(OpenAIChatLLM):
    def __init__(self, model_name: str, api_base_url: str, api_key: str | None = None, *,
                 timeout: float = 60.0, max_retries: int = 1, temperature: float = 0.2,
                 context: int = 8192, **kwargs: Any) -> None:
        self._max_retries = max_retries
        self.timeout_s = timeout
        self.context = context
        super().__init__(
            model_name=model_name, api_base_url=api_base_url, api_key=api_key,
            default_temperature=temperature, default_max_tokens=MAX_REPLY_TOKENS,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)), **kwargs,
        )

    # --- the request -----------------------------------------------------------------------------

    def payload(self, messages: list[Message], stream: bool, kwargs: dict[str, Any]) -> dict[str, Any]:
        wire = [_wire(m) for m in messages]
        body: dict[str, Any] = {"model": self.model_id, "messages": wire, "stream": stream,
                                "temperature": self.default_temperature}
        body.update({k: kwargs[k] for k in _API_KEYS if kwargs.get(k) is not None})
        if "tools" not in body:
            body.pop("tool_choice", None)
        body["max_tokens"] = self.reply_budget(wire, body.get("tools"), body.get("max_tokens"))
        return body

    def reply_budget(self, wire: list[dict[str, Any]], tools: Any, asked: int | None) -> int:
        """What is left of the context for the reply: servers such as llama-cpp-python refuse a
        request whose prompt plus max_tokens exceeds the context, instead of answering shorter."""
        prompt = len(json.dumps([wire, tools or []], ensure_ascii=False)) // CHARS_PER_TOKEN
        room = self.context - prompt
        return max(MIN_REPLY_TOKENS, min(asked or MAX_REPLY_TOKENS, MAX_REPLY_TOKENS, room))

    async def chat_completion(self, messages: list[Message], stream: bool = False,  # type: ignore[override]
                              max_retries: int | None = None, **kwargs: Any):
        retries = self._max_retries if max_retries is None else max_retries
        body = self.payload(messages, stream, kwargs)
        client = await self._get_client()
        if stream:
            return self._streamed(client, body, retries)
        return await self._whole(client, body, retries)

    async def _whole(self, client: httpx.AsyncClient, body: dict[str, Any], retries: int) -> Message:
        message = await self._one_reply(client, body, retries)
        name = _named_without_arguments(message, body.get("tools"))
        if name is not None:
            # llama-cpp-python's chatml-function-calling may stop after "functions.NAME:"; asked
            # again with that tool chosen, the server writes the arguments under the tool's schema
            # (tool_choice naming a function: the OpenAI API's own way, which it also implements)
            again = await self._one_reply(client, {**body, "tool_choice": {
                "type": "function", "function": {"name": name}}}, retries)
            if _named_without_arguments(again, body.get("tools")) is None and again.tool_calls:
                return again
        return message

    async def _one_reply(self, client: httpx.AsyncClient, body: dict[str, Any], retries: int) -> Message:
        for attempt in range(retries + 1):
            try:
                response = await client.post(self.chat_completions_url, json=body)
                break
            except httpx.ConnectError as exc:  # nothing reached the server: safe to try again
                if attempt >= retries:
                    raise self._failure(self._unreachable(_why(exc))) from None
                await asyncio.sleep(0.5 * 2 ** attempt)
            except httpx.TimeoutException:
                raise self._failure(self._timed_out()) from None
            except httpx.HTTPError as exc:  # connected, then the reply failed part-way
                raise self._failure(self._broke_off(_why(exc))) from None
        if response.status_code >= 400:
            raise self._failure(self._http_error(response.status_code, _error_detail(response.text)))
        try:
            message = response.json()["choices"][0]["message"]
            content, structured = message.get("content"), message.get("tool_calls")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise self._failure(self._not_a_completion(response.text)) from None
        text = strip_think(content if isinstance(content, str) else "")
        calls = _structured(structured)
        if not calls:
            found, text = find_calls(text)
            calls = _from_text(found)
        return Message(role="assistant", content=text.strip() if calls else text, tool_calls=calls or None)

    async def _streamed(self, client: httpx.AsyncClient, body: dict[str, Any],
                        retries: int) -> AsyncGenerator[MessageChunk, None]:
        started = False
        for attempt in range(retries + 1):
            try:
                async with client.stream("POST", self.chat_completions_url, json=body) as response:
                    if response.status_code >= 400:
                        detail = (await response.aread()).decode("utf-8", "replace")
                        raise self._failure(self._http_error(response.status_code, _error_detail(detail)))
                    started = True
                    async for chunk in self._events(response):
                        yield chunk
                return
            except httpx.ConnectError as exc:
                if started or attempt >= retries:
                    raise self._failure(self._unreachable(_why(exc))) from None
                await asyncio.sleep(0.5 * 2 ** attempt)
            except httpx.TimeoutException:
                raise self._failure(self._timed_out()) from None
            except httpx.HTTPError as exc:
                raise self._failure(self._broke_off(_why(exc)) if started else self._unreachable(_why(exc))) from None

    async def _events(self, response: httpx.Response) -> AsyncGenerator[MessageChunk, None]:
        """Server-sent events to chunks: text as it comes (filtered), the calls at the end."""
        shown = StreamedText()
        pieces: dict[int, dict[str, str]] = {}
        finished = False
        async for line in response.aiter_lines():
            line = line.strip()
            if not line.startswith("data:"):
                continue
            data = line[len("data:"):].strip()
            if data == "[DONE]":
                finished = True
                break
            try:
                event = json.loads(data)
            except ValueError:
                raise self._failure(self._not_a_completion(data)) from None
            if not isinstance(event, dict):
                raise self._failure(self._not_a_completion(data))
            if event.get("error"):  # llama-cpp-python and vLLM report a failure inside the stream
                raise self._failure(self._broke_off(_error_detail(json.dumps(event)) or "an error event"))
            choices = event.get("choices") or [{}]
            choice = choices[0] if isinstance(choices[0], dict) else {}
            delta = choice.get("delta") or {}
            piece = delta.get("content")
            if isinstance(piece, str) and piece:
                now = shown.feed(piece)
                if now:
                    yield MessageChunk(role="assistant", content=now)
            for call in delta.get("tool_calls") or []:
                slot = pieces.setdefault(int(call.get("index", len(pieces))), {"id": "", "name": "", "arguments": ""})
                function = call.get("function") or {}
                slot["id"] = call.get("id") or slot["id"]
                slot["name"] += function.get("name") or ""
                slot["arguments"] += function.get("arguments") or ""
            if choice.get("finish_reason"):
                finished = True
        if not finished:
            raise self._failure(self._broke_off("the stream ended before the reply was finished"))
        rest, found = shown.finish()
        calls = _structured([{"id": p["id"], "function": {"name": p["name"], "arguments": p["arguments"]}}
                             for _, p in sorted(pieces.items())])
        if not calls:
            calls = _from_text(found)
        elif found:  # the same call written twice: the structured one counts, its text is dropped
            rest = find_calls(rest)[1]
        if rest.strip():
            yield MessageChunk(role="assistant", content=rest)
        if calls:
            yield MessageChunk(role="assistant", content=None, tool_calls=calls)

    # --- what the person at the keyboard reads ---------------------------------------------------

    def _failure(self, text: str) -> ModelUnavailable:
        log.warning("model call failed: %s", text)  # the log is the place to look afterwards
        return ModelUnavailable(text)

    def _unreachable(self, why: str) -> str:
        return (f"Cannot reach the model server at {self.api_base_url} ({why}); check that it is running "
                f"and that HITL_LLM_BASE_URL is right. Nothing was changed.")

    def _timed_out(self) -> str:
        return (f"The model server at {self.api_base_url} did not answer within {self.timeout_s:g} s "
                f"(HITL_LLM_TIMEOUT); check that it is running and not overloaded. Nothing was changed.")

    def _broke_off(self, why: str) -> str:
        return (f"The model server at {self.api_base_url} broke off its reply ({why}); ask again. "
                f"Nothing was changed.")

    def _not_a_completion(self, text: str) -> str:
        return (f"The model server at {self.api_base_url} sent a reply that is not an OpenAI-compatible "
                f"chat completion ({' '.join(text.split())[:200]}). Nothing was changed.")

    def _http_error(self, status: int, detail: str) -> str:
        hint = {
            401: "the API key was refused: set HITL_LLM_API_KEY or the keyring entry 'hitl-tui-llm'",
            403: "the API key may not use this model",
            404: f"no such endpoint or model: check HITL_LLM_BASE_URL and HITL_LLM_MODEL ({self.model_id})",
            429: "rate limited: wait a moment and ask again",
        }.get(status, "the server failed" if status >= 500 else "the server refused the request")
        return (f"The model server at {self.api_base_url} answered HTTP {status}: {hint}"
                f"{f' ({detail})' if detail else ''}. Nothing was changed.")


def _wire(message: Message) -> dict[str, Any]:
    """A message as sent: an assistant message always has string content (llama-cpp-python's
    server answers HTTP 500 to a tool-call message without it; "" is what OpenAI's docs allow)."""
    body: dict[str, Any] = message.model_dump(exclude_none=True)
    if body.get("role") == "assistant" and not isinstance(body.get("content"), str):
        body["content"] = ""
    return body


def _structured(raw: Any) -> list[ToolCall]:
    calls = []
    for n, item in enumerate(raw if isinstance(raw, list) else []):
        function = item.get("function") if isinstance(item, dict) else None
        if not isinstance(function, dict) or not function.get("name"):
            continue
        args = function.get("arguments")
        args = args if isinstance(args, str) else json.dumps(args or {})
        calls.append(ToolCall(id=item.get("id") or f"call_{n}", type="function",
                              function=FunctionCall(name=function["name"], arguments=args or "{}")))
    return calls


def _named_without_arguments(message: Message, tools: Any) -> str | None:
    """The tool a reply calls by name alone, with `{}` for arguments, when that tool requires
    some: the one call of the reply, else None."""
    calls = message.tool_calls or []
    if len(calls) != 1:
        return None
    try:
        given = json.loads(calls[0].function.arguments or "{}")
    except ValueError:
        return None
    if given:
        return None
    name = calls[0].function.name
    for tool in tools if isinstance(tools, list) else []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and function.get("name") == name:
            required = (function.get("parameters") or {}).get("required") or []
            return name if required else None
    return None


def _from_text(found: list[TextCall]) -> list[ToolCall]:
    return [ToolCall(id=f"call_{uuid.uuid4().hex[:12]}", type="function",
                     function=FunctionCall(name=c.name, arguments=c.arguments_json)) for c in found]


def _error_detail(text: str) -> str:
    """The server's own words about an error: OpenAI's {"error": {"message": ...}}, or its text."""
    try:
        value = json.loads(text)
    except ValueError:
        return " ".join(text.split())[:200]
    error = value.get("error", value) if isinstance(value, dict) else value
    if isinstance(error, dict):
        error = error.get("message") or error.get("detail") or ""
    return " ".join(str(error).split())[:200]


def _why(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
