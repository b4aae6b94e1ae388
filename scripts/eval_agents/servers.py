"""The two local OpenAI-compatible servers: installed once into the cache, started on a free
port of 127.0.0.1, stopped at the end.

- llama-cpp-python[server] in a venv of its own (it builds llama.cpp from source: about 11 min
  on 2 cores, so its wheel and venv are kept), served with --chat_format chatml-function-calling;
- llama.cpp's own llama-server, built with cmake from the llama.cpp sources vendored inside that
  same sdist (vendor/llama.cpp), so both servers come from the one registry package; --jinja.

Builds use at most 2 jobs: the machines this runs on have 2 cores.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .errors import SetupFailed

LLAMA_CPP_PYTHON = "0.3.36"  # pinned: the build is cached, and both servers come from this sdist
SERVERS = ("llama-cpp-python", "llama-server")
#: HITL_LLM_STREAM per server: llama-cpp-python's function-calling chat format does not stream
#: tool calls (a streamed turn there fails mid-stream), llama-server streams them
STREAM = {"llama-cpp-python": "0", "llama-server": "1"}
CONTEXT = 8192
BUILD_ENV = {"CMAKE_BUILD_PARALLEL_LEVEL": "2", "MAKEFLAGS": "-j2"}

Say = Callable[[str], None]


def _run(cmd: list[str], what: str, log: Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, cwd=cwd)
    if done.returncode != 0:
        raise SetupFailed(f"{what} failed (exit status {done.returncode}); its output is in {log}")


def sdist(cache: Path, say: Say) -> Path:
    folder = cache / "sdist"
    found = sorted(folder.glob(f"llama_cpp_python-{LLAMA_CPP_PYTHON}.tar.gz"))
    if found:
        return found[0]
    folder.mkdir(parents=True, exist_ok=True)
    say(f"downloading the llama-cpp-python {LLAMA_CPP_PYTHON} sources (pip download --no-binary)")
    _run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-d", str(folder),
          f"llama-cpp-python=={LLAMA_CPP_PYTHON}"], "downloading llama-cpp-python", cache / "setup.log")
    found = sorted(folder.glob(f"llama_cpp_python-{LLAMA_CPP_PYTHON}.tar.gz"))
    if not found:
        raise SetupFailed(f"pip left no llama_cpp_python-{LLAMA_CPP_PYTHON}.tar.gz in {folder}")
    return found[0]


def llama_cpp_python(cache: Path, say: Say) -> Path:
    """The python of the server venv, with llama-cpp-python[server] installed (built if needed)."""
    venv = cache / "server-venv"
    python = venv / "bin" / "python"
    if python.exists() and subprocess.run([str(python), "-c", "import llama_cpp.server.app"],
                                          capture_output=True).returncode == 0:
        return python
    log = cache / "setup.log"
    if not python.exists():
        say(f"creating the server's own venv in {venv}")
        _run([sys.executable, "-m", "venv", str(venv)], "creating the server venv", log)
    wheels = cache / "wheels"
    if not sorted(wheels.glob(f"llama_cpp_python-{LLAMA_CPP_PYTHON}-*.whl")):
        source = sdist(cache, say)
        say(f"building llama-cpp-python {LLAMA_CPP_PYTHON} from source (about 11 minutes on 2 cores; "
            f"the wheel is kept in {wheels}); log: {log}")
        _run([str(python), "-m", "pip", "wheel", "--no-deps", "-w", str(wheels), str(source)],
             "building llama-cpp-python", log, env=BUILD_ENV)
    say("installing llama-cpp-python[server] into the server venv")
    _run([str(python), "-m", "pip", "install", "--find-links", str(wheels),
          f"llama-cpp-python[server]=={LLAMA_CPP_PYTHON}"], "installing llama-cpp-python[server]", log)
    return python


def llama_server(cache: Path, say: Say) -> Path:
    """llama.cpp's llama-server, built from the sdist's vendor/llama.cpp (once)."""
    binary = cache / "bin" / "llama-server"
    if binary.exists():
        return binary
    if shutil.which("cmake") is None:
        raise SetupFailed("cmake is not installed (apt-get install cmake build-essential); llama-server needs it")
    source = sdist(cache, say)
    tree = cache / "llama.cpp"
    log = cache / "setup.log"
    if not (tree / "CMakeLists.txt").exists():
        say(f"unpacking llama.cpp from {source.name} (vendor/llama.cpp)")
        prefix = f"llama_cpp_python-{LLAMA_CPP_PYTHON}/vendor/llama.cpp/"
        shutil.rmtree(tree, ignore_errors=True)
        with tarfile.open(source) as tf:
            members = []
            for m in tf.getmembers():
                if m.name.startswith(prefix) and len(m.name) > len(prefix):
                    m.name = m.name[len(prefix):]
                    members.append(m)
            tf.extractall(tree, members=members, filter="data")
    say(f"building llama-server with cmake (2 jobs, a few minutes); log: {log}")
    build = tree / "build"
    _run(["cmake", "-S", str(tree), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release", "-DLLAMA_CURL=OFF",
          "-DBUILD_SHARED_LIBS=OFF", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF",
          "-DLLAMA_BUILD_SERVER=ON"], "configuring llama.cpp", log)
    _run(["cmake", "--build", str(build), "--target", "llama-server", "-j", "2"], "building llama-server", log,
         env=BUILD_ENV)
    built = build / "bin" / "llama-server"
    if not built.exists():
        raise SetupFailed(f"the llama.cpp build made no {built}; its output is in {log}")
    binary.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(built, binary)
    return binary


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    model_name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    started: float = field(default_factory=time.monotonic)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        try:  # its own process group: a ^C in the harness's terminal must not race us
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass


def start(server: str, model: Path, model_name: str, cache: Path, say: Say, *, ready_within: float = 300) -> Server:
    """Install (if needed) and start `server` serving `model` on a free 127.0.0.1 port; returns
    once it answers /v1/models."""
    threads = str(max(1, min(2, os.cpu_count() or 1)))
    port = free_port()
    if server == "llama-cpp-python":
        python = llama_cpp_python(cache, say)
        cmd = [str(python), "-m", "llama_cpp.server", "--model", str(model), "--model_alias", model_name,
               "--host", "127.0.0.1", "--port", str(port), "--chat_format", "chatml-function-calling",
               "--n_ctx", str(CONTEXT), "--n_threads", threads]
    elif server == "llama-server":
        binary = llama_server(cache, say)
        cmd = [str(binary), "-m", str(model), "--alias", model_name, "--host", "127.0.0.1", "--port", str(port),
               "--jinja", "-c", str(CONTEXT), "-t", threads]
    else:
        raise SetupFailed(f"unknown server {server!r}; choose one of: {', '.join(SERVERS)}")
    log = cache / "logs" / f"{server}-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    say(f"starting {server} on 127.0.0.1:{port} (log: {log})")
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    running = Server(server, model_name, port, proc, log)
    deadline = time.monotonic() + ready_within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (log.read_text(errors="replace").strip().splitlines() or ["no output"])[-1]
            raise SetupFailed(f"{server} exited with status {proc.returncode} at start: {tail[:200]} (log: {log})")
        try:
            with urllib.request.urlopen(f"{running.base_url}/models", timeout=5) as reply:
                if reply.status == 200:
                    return running
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(1)
    running.stop()
    raise SetupFailed(f"{server} did not answer on 127.0.0.1:{port} within {ready_within:.0f} s (log: {log})")
