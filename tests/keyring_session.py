"""Test isolation from the real keyring, and a private, real one for the keyring tests.

`isolated_environment` (autouse, via tests/conftest.py) points HOME and the XDG directories at a
temp dir, drops every HITL_DB_* variable and the D-Bus address, and forces keyring's `fail`
backend, so no test can read or write the developer's real keyring or home by accident.

`private_keyring` (session) starts a private dbus-daemon and gnome-keyring-daemon in a temp
dir; `real_keyring` (function) points the test's environment at them. No mocks: the keyring
tests talk to a real Secret Service over a real bus.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import keyring.core
import pytest
from keyring.backend import KeyringBackend

KEYRING_PASSWORD = "hitl-test-keyring-password"
SECRET_SERVICE = "org.freedesktop.secrets"
INSTALL_HINT = (
    "scripts/test installs them (Debian packages dbus and gnome-keyring: "
    "`apt-get install dbus gnome-keyring`)"
)

REMOVED_VARS = (
    "HITL_DB_KEY", "HITL_DB_KEY_FILE", "HITL_DB_PASSPHRASE", "HITL_DB_PATH",
    "HITL_CONFIG",  # names a config file: a developer's own must never reach a test
    "HITL_SERVER",  # names a service: a developer's own must never receive a test's requests
    "DBUS_SESSION_BUS_ADDRESS",
    # a terminal's size: readline sets COLUMNS=80 LINES=24 in pytest's own process, which
    # pytest-xdist's workers inherit; commands must see what a pipe gives them, as in CI
    "COLUMNS", "LINES",
)

# A bus with no service activation: if our gnome-keyring dies, clients get an error instead of
# the bus silently spawning a second daemon (from /usr/share/dbus-1/services) that we would not
# know to kill.
_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def _home_env(root: Path) -> dict[str, str]:
    """HOME and XDG directories under root, created (XDG_RUNTIME_DIR must be 0700)."""
    env = {
        "HOME": root / "home",
        "XDG_CONFIG_HOME": root / "config",
        "XDG_DATA_HOME": root / "data",
        "XDG_CACHE_HOME": root / "cache",
        "XDG_STATE_HOME": root / "state",
        "XDG_RUNTIME_DIR": root / "run",
    }
    for path in env.values():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return {name: str(path) for name, path in env.items()}


@contextmanager
def isolated_home(root: Path) -> Iterator[dict[str, str]]:
    """For a module-scoped fixture (the autouse one below is per test): HOME and XDG under
    `root` and no keyring (those variables are given), the project's variables removed; undone
    on leaving."""
    home = {**_home_env(root), "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in home.items():
            mp.setenv(name, value)
        for name in REMOVED_VARS:
            mp.delenv(name, raising=False)
        yield home


def _reset_keyring_backend() -> None:
    """keyring caches its backend per process; make it re-read the (patched) environment."""
    keyring.core.init_backend()


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path_factory, monkeypatch):
    for name, value in _home_env(tmp_path_factory.mktemp("env")).items():
        monkeypatch.setenv(name, value)
    for name in REMOVED_VARS:
        monkeypatch.delenv(name, raising=False)
        os.unsetenv(name)  # readline's setenv bypasses os.environ: children started with env=None see it
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    # the tests start `hitl-tui` hundreds of times: let those processes keep their bytecode
    # (a machine that sets PYTHONDONTWRITEBYTECODE recompiles every module on every start)
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    _reset_keyring_backend()
    yield


@dataclass
class PrivateKeyring:
    root: Path
    env: dict[str, str]  # HOME, XDG_*, DBUS_SESSION_BUS_ADDRESS of the private session
    processes: list[subprocess.Popen] = field(default_factory=list)
    startup_seconds: float = 0.0

    @property
    def address(self) -> str:
        return self.env["DBUS_SESSION_BUS_ADDRESS"]

    def _call(self, conn, destination, path, interface, method, signature=None, body=()):
        from jeepney import DBusAddress, MessageType, new_method_call

        msg = new_method_call(
            DBusAddress(path, bus_name=destination, interface=interface), method, signature, body
        )
        reply = conn.send_and_get_reply(msg, timeout=10)
        if reply.header.message_type == MessageType.error:
            raise RuntimeError(f"{interface}.{method} failed: {reply.body}")
        return reply.body

    def _connect(self):
        from jeepney.io.blocking import open_dbus_connection

        return open_dbus_connection(self.address)

    def _secret(self, conn, method, signature=None, body=()):
        return self._call(conn, SECRET_SERVICE, "/org/freedesktop/secrets",
                          "org.freedesktop.Secret.Service", method, signature, body)

    def has_service(self) -> bool:
        with self._connect() as conn:
            return self._call(conn, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                              "org.freedesktop.DBus", "NameHasOwner", "s", (SECRET_SERVICE,))[0]

    def lock(self) -> None:
        """Lock the default collection, as a screen lock would (Secret Service Lock method)."""
        with self._connect() as conn:
            collection = self._secret(conn, "ReadAlias", "s", ("default",))[0]
            self._secret(conn, "Lock", "ao", ([collection],))

    def unlock(self) -> None:
        """Unlock with the password and no prompt, through gnome-keyring's private D-Bus method
        (the standard Unlock wants a GUI prompt, which a headless session cannot show). The
        password travels in a "plain" session, which lives only as long as this connection."""
        with self._connect() as conn:
            collection = self._secret(conn, "ReadAlias", "s", ("default",))[0]
            session = self._secret(conn, "OpenSession", "sv", ("plain", ("s", "")))[1]
            secret = (session, b"", KEYRING_PASSWORD.encode(), "text/plain")
            self._call(conn, SECRET_SERVICE, "/org/freedesktop/secrets",
                       "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface",
                       "UnlockWithMasterPassword", "o(oayays)", (collection, secret))

    def stop(self) -> None:
        for proc in reversed(self.processes):  # keyring first, then its bus
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        self.processes.clear()


def start_private_keyring(root: Path) -> PrivateKeyring:
    missing = [cmd for cmd in ("dbus-daemon", "gnome-keyring-daemon") if not shutil.which(cmd)]
    if missing:
        pytest.fail(f"{' and '.join(missing)} not found: {INSTALL_HINT}.", pytrace=False)
    started = time.monotonic()
    env = _home_env(root)
    socket = root / "bus"
    config = root / "bus.conf"
    config.write_text(_BUS_CONFIG.format(socket=socket))
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", **env}
    kr = PrivateKeyring(root, env)
    log = open(root / "daemons.log", "wb")
    try:
        bus = subprocess.Popen(
            ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
            env=base, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
        )
        kr.processes.append(bus)
        address = bus.stdout.readline().decode().strip()  # printed once the bus listens
        if not address:
            raise RuntimeError("dbus-daemon exited without printing its address")
        kr.env["DBUS_SESSION_BUS_ADDRESS"] = address
        # --unlock reads the login keyring password from stdin; on first start it creates the
        # "login" collection with that password, unlocked, as the default collection.
        daemon = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            env={**base, "DBUS_SESSION_BUS_ADDRESS": address},
            stdin=subprocess.PIPE, stdout=log, stderr=log,
        )
        kr.processes.append(daemon)
        daemon.stdin.write(KEYRING_PASSWORD.encode())
        daemon.stdin.close()
        deadline = time.monotonic() + 15
        while not kr.has_service():
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gnome-keyring-daemon did not take the Secret Service name")
            time.sleep(0.02)
    except Exception as exc:
        kr.stop()
        log.close()
        details = (root / "daemons.log").read_text(errors="replace")[-2000:]
        pytest.fail(f"private keyring did not start: {exc}\n{details}", pytrace=False)
    log.close()
    kr.startup_seconds = time.monotonic() - started
    return kr


@pytest.fixture(scope="session")
def private_keyring(tmp_path_factory):
    # A short path: unix socket paths are limited to ~107 bytes. Session scope is per process:
    # each pytest-xdist worker starts its own bus and daemon under its own basetemp.
    kr = start_private_keyring(tmp_path_factory.mktemp("kr"))
    try:
        yield kr
    finally:
        kr.stop()


@pytest.fixture
def real_keyring(private_keyring, monkeypatch):
    """Point keyring (and anything else) at the private, unlocked gnome-keyring."""
    for name, value in private_keyring.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.SecretService.Keyring")
    _reset_keyring_backend()
    yield private_keyring


@pytest.fixture
def locked_keyring(real_keyring):
    """The private keyring, locked for the duration of the test, unlocked afterwards."""
    real_keyring.lock()
    try:
        yield real_keyring
    finally:
        real_keyring.unlock()


# --- keyring backends used by the tests (importable by name for PYTHON_KEYRING_BACKEND) -------



class PlaintextDictKeyring(KeyringBackend):
    """Stands for keyrings.alt's plain-text file: viable, answers, and must NOT be trusted."""

    priority = 1
    store: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.store.get((service, username))

    def set_password(self, service, username, password):
        self.store[(service, username)] = password

    def delete_password(self, service, username):
        self.store.pop((service, username), None)
