"""Which model the assistant talks to: an OpenAI-compatible endpoint, or none (offline).

The choices are the [llm] settings (core/settings.py: HITL_LLM_BASE_URL, HITL_LLM_MODEL,
HITL_LLM_STREAM, HITL_LLM_TIMEOUT, HITL_LLM_TEMPERATURE, HITL_LLM_CONTEXT, or the same names under
[llm] in the config file); ModelSettings is what the assistant is built from, with the API key added:

HITL_LLM_API_KEY    optional; otherwise the OS keyring entry service "hitl-tui-llm",
                    username = the base URL (real keyrings only, with a time limit). A secret,
                    so an env-only fact: never a setting, never read from the config file.

With neither URL nor model set, the built-in offline assistant answers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping

from ..core.errors import HitlError

if TYPE_CHECKING:
    from ..core.settings import Settings

KEYRING_SERVICE = "hitl-tui-llm"
ENV_API_KEY = "HITL_LLM_API_KEY"


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
    temperature: float = 0.2
    #: the model's context size in tokens: bounds the reply asked for (checked_llm.py)
    context: int = 8192

    @property
    def configured(self) -> bool:
        return bool(self.base_url and self.model)

    def describe(self) -> str:
        if not self.configured:
            return "offline assistant (no model configured)"
        return f"model {self.model} at {self.base_url}"


def load_model_settings(env: Mapping[str, str] | None = None, *, keyring_timeout: float = 3.0,
                        settings: "Settings | None" = None) -> ModelSettings:
    """The assistant's model from `settings`' [llm] table (default: this process's settings;
    with `env`, the settings that environment mapping gives), plus its API key. A half-configured
    or malformed choice was refused when the settings were loaded (SettingsInvalid, one line)."""
    from ..core.settings import Settings, given_or_loaded

    if settings is None and env is not None:
        settings = Settings.load(environ=env)
    llm = given_or_loaded(settings).llm
    if not llm.base_url or not llm.model:
        return ModelSettings()
    key, source = _api_key(os.environ if env is None else env, llm.base_url, keyring_timeout)
    return ModelSettings(llm.base_url, llm.model, key, source, llm.stream, llm.timeout,
                         temperature=llm.temperature, context=llm.context)


def _api_key(env: Mapping[str, str], base_url: str, timeout: float) -> tuple[str | None, str]:
    # a secret: from the environment (an env-only fact), else the keyring; never a setting
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
