"""tframex's OpenAIChatLLM, with failures raised instead of dressed up as answers.

On a network failure or an HTTP error OpenAIChatLLM returns an assistant message whose content
is the error text ("LLM API Error: 500", "LLM call (...) failed after 3 attempts..."); shown in
the chat it would look like the model's reply. We watch the HTTP exchange itself (httpx event
hooks on the library's own client): a request that got no response, or a response with an error
status, turns the call into ModelUnavailable, which the session shows as TurnFailed.
"""

from __future__ import annotations

from typing import Any, AsyncGenerator

import httpx

from .tfx import Message, MessageChunk, OpenAIChatLLM

# The only content OpenAIChatLLM produces for a 200 response it could not parse.
_PARSE_FAILURE_PREFIX = "Unexpected error: "


class ModelUnavailable(Exception):
    """The model could not answer; the message says why in words for the person at the keyboard."""


class _HttpTrace:
    """What happened on the wire during one chat_completion call."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.sent = 0
        self.received = 0
        self.error_status: int | None = None

    async def on_request(self, request: httpx.Request) -> None:
        self.sent += 1

    async def on_response(self, response: httpx.Response) -> None:
        self.received += 1
        if response.status_code >= 400:
            self.error_status = response.status_code


class CheckedOpenAIChatLLM(OpenAIChatLLM):
    def __init__(self, model_name: str, api_base_url: str, api_key: str | None = None, *,
                 timeout: float = 60.0, max_retries: int = 1, **kwargs: Any) -> None:
        self._trace = _HttpTrace()
        self._max_retries = max_retries
        super().__init__(
            model_name=model_name, api_base_url=api_base_url, api_key=api_key,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            event_hooks={"request": [self._trace.on_request], "response": [self._trace.on_response]},
            **kwargs,
        )

    async def chat_completion(self, messages: list[Message], stream: bool = False,
                              max_retries: int | None = None, **kwargs: Any):
        self._trace.reset()
        retries = self._max_retries if max_retries is None else max_retries
        try:
            result = await super().chat_completion(messages, stream=stream, max_retries=retries, **kwargs)
        except httpx.HTTPError as exc:  # not every transport error is caught inside the library
            raise ModelUnavailable(self._unreachable(str(exc) or type(exc).__name__)) from None
        if stream:
            return self._checked_stream(result)
        self._check(result.content, final=True)
        return result

    async def _checked_stream(self, chunks: AsyncGenerator[MessageChunk, None]) -> AsyncGenerator[MessageChunk, None]:
        # In streaming mode the library makes the request only when iterated, and connection
        # errors escape its retry loop: they surface here as httpx exceptions.
        try:
            async for chunk in chunks:
                self._check(chunk.content, final=False)
                yield chunk
        except httpx.HTTPError as exc:
            raise ModelUnavailable(self._unreachable(str(exc) or type(exc).__name__)) from None
        self._check(None, final=True)

    def _check(self, content: str | None, *, final: bool) -> None:
        trace = self._trace
        if trace.error_status is not None:
            raise ModelUnavailable(self._http_error(trace.error_status, content or ""))
        if final and trace.sent > trace.received:
            last = (content or "").split("Last error:", 1)[-1].strip() or "no response"
            raise ModelUnavailable(self._unreachable(last))
        if final and content and content.startswith(_PARSE_FAILURE_PREFIX) and trace.sent:
            raise ModelUnavailable(
                f"The model server at {self.api_base_url} sent a reply that is not an OpenAI-compatible "
                f"chat completion ({content[len(_PARSE_FAILURE_PREFIX):][:200]}).")

    def _unreachable(self, why: str) -> str:
        return (f"Cannot reach the model server at {self.api_base_url} ({why}); check that it is running "
                f"and that HITL_LLM_BASE_URL is right. Nothing was changed.")

    def _http_error(self, status: int, content: str) -> str:
        hint = {
            401: "the API key was refused: set HITL_LLM_API_KEY or the keyring entry 'hitl-tui-llm'",
            403: "the API key may not use this model",
            404: f"no such endpoint or model: check HITL_LLM_BASE_URL and HITL_LLM_MODEL ({self.model_id})",
            429: "rate limited: wait a moment and ask again",
        }.get(status, "the server failed" if status >= 500 else "the server refused the request")
        detail = content.split(" - ", 1)[1].strip()[:200] if " - " in content else ""
        return (f"The model server at {self.api_base_url} answered HTTP {status}: {hint}"
                f"{f' ({detail})' if detail else ''}. Nothing was changed.")
