"""The channels: webhooks over HTTP (httpx) and email over SMTP with STARTTLS (smtplib).

Each failure becomes SendFailed with one line naming the cause (the outbox keeps it as the
row's last_error); nothing here retries, the delivery loop does (delivery.py).
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from ..core.notifications import Smtp

KEYRING_SERVICE = "hitl-tui-smtp"
#: a webhook that answers slower than this is a failed attempt (tried again later)
HTTP_TIMEOUT = 10.0


class SendFailed(Exception):
    """One attempt failed; str() is the one line recorded. `permanent`: trying again cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Webhooks:
    """One HTTP client for a run of deliveries (connections kept alive between them)."""

    def __init__(self, timeout: float = HTTP_TIMEOUT) -> None:
        # no redirects: a webhook address that moved is the administrator's to change, and a
        # redirect must not carry a signed body to another host
        self._client = httpx.Client(timeout=timeout, follow_redirects=False,
                                    headers={"User-Agent": "hitl-tui-notify"})

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        host = urlsplit(url).hostname or "?"
        try:
            reply = self._client.post(url, content=body, headers={"Content-Type": "application/json", **headers})
        except httpx.TimeoutException:
            raise SendFailed(f"{host} did not answer within {HTTP_TIMEOUT:g} s") from None
        except httpx.HTTPError as exc:
            raise SendFailed(f"cannot reach {host}: {_reason(exc)}") from None
        if not 200 <= reply.status_code < 300:
            raise SendFailed(f"{host} answered HTTP {reply.status_code}")

    def close(self) -> None:
        self._client.close()


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())[:200]


class Mailer:
    """One SMTP session for a run of emails, opened at the first one: STARTTLS always (a server
    that does not offer it gets nothing), then the login when a user is set."""

    def __init__(self, smtp: Smtp) -> None:
        self.smtp = smtp
        self._session: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        s = self.smtp
        password = read_password(s) if s.user else None
        context = ssl.create_default_context(cafile=s.ca_file) if s.ca_file else ssl.create_default_context()
        try:
            session = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        except (OSError, smtplib.SMTPException) as exc:
            raise SendFailed(f"cannot reach the SMTP server {s.host}:{s.port}: {_reason(exc)}") from None
        try:
            session.ehlo()
            if not session.has_extn("starttls"):
                raise SendFailed(f"the SMTP server {s.host}:{s.port} does not offer STARTTLS; nothing is sent "
                                 f"in the clear")
            session.starttls(context=context)
            session.ehlo()
            if s.user and password is not None:
                session.login(s.user, password)
        except SendFailed:
            session.close()
            raise
        except smtplib.SMTPAuthenticationError:
            session.close()
            raise SendFailed(f"the SMTP server {s.host} refused the login of {s.user}") from None
        except (OSError, ssl.SSLError, smtplib.SMTPException) as exc:
            session.close()
            raise SendFailed(f"SMTP with {s.host}:{s.port} failed: {_reason(exc)}") from None
        return session

    def send(self, message: EmailMessage) -> None:
        if self._session is None:
            self._session = self._open()
        try:
            refused = self._session.send_message(message)
        except smtplib.SMTPRecipientsRefused:
            raise SendFailed(f"the SMTP server refused the address {message['To']}", permanent=True) from None
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise SendFailed(f"SMTP with {self.smtp.host} failed: {_reason(exc)}") from None
        if refused:
            raise SendFailed(f"the SMTP server refused {', '.join(refused)}", permanent=True)

    def close(self) -> None:
        if self._session is not None:
            try:
                self._session.quit()
            except (OSError, smtplib.SMTPException, socket.error):
                self._session.close()
            self._session = None


def read_password(s: Smtp) -> str:
    """The SMTP password, from its file (0600 or tighter) or the keyring; SendFailed otherwise."""
    if s.password_file:
        path = Path(s.password_file)
        try:
            mode = path.stat().st_mode & 0o777
            if mode & 0o077:
                raise SendFailed(f"the SMTP password file {path} is readable by others (mode {mode:o}); run "
                                 f"`chmod 600 {path}`")
            return path.read_text("utf-8").strip("\r\n")
        except OSError as exc:
            raise SendFailed(f"cannot read the SMTP password file {path}: {exc.strerror}") from None
    if s.password_keyring:
        import keyring
        from keyring.errors import KeyringError

        try:
            stored = keyring.get_password(KEYRING_SERVICE, s.user or "")
        except KeyringError as exc:
            raise SendFailed(f"the keyring cannot be read: {_reason(exc)}") from None
        if stored is None:
            raise SendFailed(f"the keyring holds no password for {KEYRING_SERVICE} / {s.user}; store it with "
                             f"`keyring set {KEYRING_SERVICE} {s.user}`")
        return stored
    raise SendFailed("no SMTP password is configured (--password-file or --password-keyring)", permanent=True)

