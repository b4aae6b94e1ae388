"""One prepared database for the module (built as the harness builds it), copied for each test."""

from __future__ import annotations

import pytest

from scripts.eval_agents.prepare import Prepared, prepare
from tests.keyring_session import isolated_home


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Prepared:
    with isolated_home(tmp_path_factory.mktemp("home")):  # the module fixture runs before the per-test one
        return prepare(tmp_path_factory.mktemp("eval") / "template")


@pytest.fixture
def prep(template, tmp_path) -> Prepared:
    return template.copy(tmp_path / "copy")
