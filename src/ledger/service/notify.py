"""Where reminders go: email over SMTP, and the WeCom (企业微信) and DingTalk (钉钉) group robots.

Each channel sends one :class:`~ledger.measures.reminding.Reminder` or raises
:class:`NotifyError` saying why; the caller retries and reports, and one channel's failure never
stops another's. Only the standard library is used (``smtplib``, ``urllib``), so the reminder
job needs nothing a server does not already have.

The robots' formats, as their documentation gives them:

* WeCom: ``POST`` the webhook URL (``…/cgi-bin/webhook/send?key=KEY``) with
  ``{"msgtype": "markdown", "markdown": {"content": TEXT}}``; success is ``{"errcode": 0}``.
* DingTalk: ``POST`` the webhook URL (``…/robot/send?access_token=TOKEN``) with
  ``{"msgtype": "markdown", "markdown": {"title": T, "text": TEXT}}``. A robot with a signing
  secret takes ``&timestamp=MS&sign=SIGN``, where SIGN is the URL-encoded base64 of
  HMAC-SHA256 over ``"MS\\nSECRET"`` keyed by the secret (:func:`dingtalk_signed_url`);
  success is ``{"errcode": 0}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Literal, Protocol

from ledger.errors import LedgerError
from ledger.measures.reminding import Reminder

Kind = Literal["email", "wecom", "dingtalk"]
KINDS: tuple[Kind, ...] = ("email", "wecom", "dingtalk")
TIMEOUT = 10.0
"""Seconds a channel may take to answer."""


class NotifyError(LedgerError):
    """Raised when a channel did not take a reminder; says which channel and why."""

    def __init__(self, channel: str, reason: str) -> None:
        self.channel = channel
        self.reason = reason
        super().__init__(f"{channel}: {reason}")


class Channel(Protocol):
    """A place a unit hears reminders."""

    @property
    def name(self) -> str:
        """``kind:label`` (the reminder log's channel; never the webhook's secret token)."""
        ...

    def send(self, reminder: Reminder) -> None:
        """Deliver, or raise :class:`NotifyError`."""
        ...


def label(kind: str, target: str) -> str:
    """A channel's name in logs: the kind and a short hash of its target (a webhook URL holds
    its token, so it is never written out)."""
    return f"{kind}:{hashlib.sha256(target.encode()).hexdigest()[:10]}"


@dataclass(frozen=True)
class SmtpServer:
    """How to reach the mail server (``LEDGER_SMTP_*``)."""

    host: str
    port: int
    sender: str
    user: str | None = None
    password: str | None = None
    starttls: bool = False


@dataclass(frozen=True)
class EmailChannel:
    """Mail to one address through the configured SMTP server."""

    address: str
    server: SmtpServer

    @property
    def name(self) -> str:
        """The channel's log name."""
        return f"email:{self.address}"

    def send(self, reminder: Reminder) -> None:
        """Send the reminder as a UTF-8 plain-text mail."""
        message = EmailMessage()
        message["From"] = self.server.sender
        message["To"] = self.address
        message["Subject"] = reminder.subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="audit-ledger")
        message.set_content(reminder.text, charset="utf-8")
        try:
            with smtplib.SMTP(self.server.host, self.server.port, timeout=TIMEOUT) as smtp:
                if self.server.starttls:
                    smtp.starttls()
                if self.server.user:
                    smtp.login(self.server.user, self.server.password or "")
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise NotifyError(self.name, f"SMTP {self.server.host}:{self.server.port}:"
                              f" {exc}") from exc


def _post_json(channel: str, url: str, body: dict[str, object]) -> None:
    if not url.startswith(("https://", "http://")):
        raise NotifyError(channel, "a robot's webhook is an http(s) URL")
    data = json.dumps(body, ensure_ascii=False).encode()
    request = urllib.request.Request(url, data=data, method="POST",  # noqa: S310 (checked)
                                     headers={"Content-Type": "application/json; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            answer = response.read()
    except urllib.error.HTTPError as exc:
        raise NotifyError(channel, f"HTTP {exc.code}") from exc
    except (OSError, ValueError) as exc:
        raise NotifyError(channel, f"cannot reach the robot: {exc}") from exc
    try:
        parsed = json.loads(answer)
    except ValueError as exc:
        raise NotifyError(channel, "the robot's answer is not JSON") from exc
    if not isinstance(parsed, dict) or parsed.get("errcode") != 0:
        raise NotifyError(channel, f"the robot refused: {str(parsed)[:200]}")


@dataclass(frozen=True)
class WeComChannel:
    """A WeCom (企业微信) group robot."""

    webhook: str

    @property
    def name(self) -> str:
        """The channel's log name."""
        return label("wecom", self.webhook)

    def send(self, reminder: Reminder) -> None:
        """Post the reminder as a markdown message."""
        _post_json(self.name, self.webhook,
                   {"msgtype": "markdown", "markdown": {"content": reminder.markdown}})


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signature: base64 of HMAC-SHA256(secret, ``"timestamp\\nsecret"``)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(),
                      hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def dingtalk_signed_url(webhook: str, secret: str, timestamp_ms: int) -> str:
    """The webhook URL with ``timestamp`` and the URL-encoded ``sign`` appended."""
    sign = urllib.parse.quote_plus(dingtalk_sign(secret, timestamp_ms))
    joiner = "&" if "?" in webhook else "?"
    return f"{webhook}{joiner}timestamp={timestamp_ms}&sign={sign}"


@dataclass(frozen=True)
class DingTalkChannel:
    """A DingTalk (钉钉) group robot, signed when it has a secret."""

    webhook: str
    secret: str | None = None
    clock: Callable[[], float] = time.time

    @property
    def name(self) -> str:
        """The channel's log name."""
        return label("dingtalk", self.webhook)

    def send(self, reminder: Reminder) -> None:
        """Post the reminder as a markdown message (to the signed URL when there is a secret:
        the robot refuses a timestamp more than an hour from its own clock)."""
        url = self.webhook
        if self.secret:
            url = dingtalk_signed_url(url, self.secret, int(self.clock() * 1000))
        _post_json(self.name, url, {"msgtype": "markdown", "markdown": {
            "title": reminder.subject, "text": reminder.markdown}})


__all__ = ["KINDS", "TIMEOUT", "Channel", "DingTalkChannel", "EmailChannel", "Kind",
           "NotifyError", "SmtpServer", "WeComChannel", "dingtalk_sign", "dingtalk_signed_url",
           "label"]
