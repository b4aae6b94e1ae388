"""Which model the assistant talks to: an OpenAI-compatible endpoint, or none (offline).

HITL_LLM_BASE_URL   e.g. http://localhost:11434/v1 (Ollama), https://api.openai.com/v1
HITL_LLM_MODEL      e.g. llama3.1, gpt-4o-mini
HITL_LLM_API_KEY    optional; otherwise the OS keyring entry service "hitl-tui-llm",
                    username = the base URL (real keyrings only, with a time limit)
HITL_LLM_STREAM     0 to ask for whole replies (for servers whose streaming breaks tool calls)
HITL_LLM_TIMEOUT    seconds per model call (default 60)

With neither URL nor model set, the built-in offline assistant answers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping

from ..core.errors import HitlError, ValidationFailed

KEYRING_SERVICE = "hitl-tui-llm"
ENV_BASE_URL = "HITL_LLM_BASE_URL"
ENV_MODEL = "HITL_LLM_MODEL"
ENV_API_KEY = "HITL_LLM_API_KEY"
ENV_STREAM = "HITL_LLM_STREAM"
ENV_TIMEOUT = "HITL_LLM_TIMEOUT"


@dataclass(frozen=True)
class ModelSettings:
    base_url: str | None = None
    model: str | None = None
    api_key: str | None = field(default=None, repr=False)  # never in a repr, log or traceback
    #: where the key came from, in words: "HITL_LLM_API_KEY", "Secret Service keyring", "none"...
    key_source: str = "none"
    stream: bool = True
    timeout: float = 60.0
    max_retries: int = 1

    @property
    def configured(self) -> bool:
        return bool(self.base_url and self.model)

    def describe(self) -> str:
        if not self.configured:
            return "offline assistant (no model configured)"
        return f"model {self.model} at {self.base_url}"


def load_model_settings(env: Mapping[str, str] | None = None, *, keyring_timeout: float = 3.0) -> ModelSettings:
    env = os.environ if env is None else env
    base_url = (env.get(ENV_BASE_URL) or "").strip().rstrip("/") or None
    model = (env.get(ENV_MODEL) or "").strip() or None
    if not base_url and not model:
        return ModelSettings()
    if not base_url or not model:
        missing = ENV_BASE_URL if not base_url else ENV_MODEL
        raise ValidationFailed(
            f"{missing} is not set: a model needs both {ENV_BASE_URL} and {ENV_MODEL} "
            f"(unset both for the offline assistant).", missing)
    if not base_url.startswith(("http://", "https://")):
        raise ValidationFailed(f"{ENV_BASE_URL} must start with http:// or https:// (got {base_url!r}).", ENV_BASE_URL)
    stream = (env.get(ENV_STREAM) or "1").strip().lower() not in ("0", "false", "no", "off")
    try:
        timeout = float(env.get(ENV_TIMEOUT) or 60)
    except ValueError:
        raise ValidationFailed(f"{ENV_TIMEOUT} must be a number of seconds.", ENV_TIMEOUT) from None
    if timeout <= 0:
        raise ValidationFailed(f"{ENV_TIMEOUT} must be a positive number of seconds.", ENV_TIMEOUT)
    key, source = _api_key(env, base_url, keyring_timeout)
    return ModelSettings(base_url, model, key, source, stream, timeout)


def _api_key(env: Mapping[str, str], base_url: str, timeout: float) -> tuple[str | None, str]:
    if env.get(ENV_API_KEY, "").strip():
        return env[ENV_API_KEY].strip(), ENV_API_KEY
    # The same trusted-backends-only, time-limited access the database key uses (keys.py): a
    # plain-text keyring is ignored, a locked one cannot hang us.
    from ..core.os_keyring import keyring_call

    try:
        found, value, description = keyring_call(lambda b: b.get_password(KEYRING_SERVICE, base_url), timeout)
    except HitlError as exc:  # locked or unresponsive: local servers need no key, so carry on
        return None, f"none (keyring unavailable: {exc})"
    if found and value:
        return value.strip(), description
    return None, "none"
