"""Agent fixtures: a real encrypted database with the seed's cast, the real tframex stack, and a
small OpenAI-compatible server for the configured-model path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hitl_tui.core.audit import os_login
from hitl_tui.core.service import WorkflowService
from tests.cast import SEED_CAST

from hitl_tui.agents.factory import create_assistant
from hitl_tui.agents.settings import ModelSettings

from .fake_model import FakeModel

CAST = {**SEED_CAST, "jane.roe": "employee", "tom.manager": "manager"}
LLM_VARS = ("HITL_LLM_BASE_URL", "HITL_LLM_MODEL", "HITL_LLM_API_KEY", "HITL_LLM_STREAM", "HITL_LLM_TIMEOUT",
            "HITL_LLM_TEMPERATURE", "HITL_LLM_CONTEXT",
            "HITL_TIMEZONE", "HITL_AGENT_LOG_LEVEL", "HITL_POLICY_FILE")


@pytest.fixture(autouse=True)
def no_model_configured(monkeypatch):
    """A developer's own model settings must not leak into the tests."""
    for name in LLM_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def db_key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "x.db"


@pytest.fixture
def service(db_path: Path, db_key: bytes):
    svc = WorkflowService.open(db_path, key=db_key)
    for name, role in CAST.items():
        svc.add_user(name, role)
    login = os_login()
    if login and login not in CAST:
        svc.add_user(login, "manager")  # the human at this keyboard, for `hitl-tui ask`
    yield svc
    svc.close(checkpoint=False)


@pytest.fixture
def fake_model():
    model = FakeModel().start()
    yield model
    model.stop()


@pytest.fixture
async def session_with(service, fake_model):
    """make(...): an assistant session on the real model wrapper, talking to the fake server."""
    made = []
    fake_model.strict_content = True  # as llama-cpp-python's server: our wrapper must pass it

    def make(username="sarah.manager", *, stream=True, base_url=None, api_key="sk-test", timeout=5.0, **more):
        settings = ModelSettings(base_url or fake_model.base_url, "fake-model", api_key, "test",
                                 stream=stream, timeout=timeout, max_retries=0, **more)
        made.append(create_assistant(service, username, settings))
        return made[-1]
    yield make
    for assistant in made:
        await assistant.aclose()
