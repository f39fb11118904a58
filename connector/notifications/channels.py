"""Where messages go: a chat incoming webhook (Slack's and Teams' both take `{"text": …}`)
and e-mail through an SMTP server. Each names its failure by host and the setting to fix,
never by the webhook URL (its path is the secret)."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import urlsplit

import requests

from connector.errors import ConnectorError
from connector.settings import Settings

TIMEOUT_SECONDS = 10.0


class ChannelError(ConnectorError):
    """A message could not be delivered; the next round tries again."""


@dataclass(frozen=True, slots=True)
class Message:
    subject: str
    lines: tuple[str, ...]
    link: str

    def text(self) -> str:
        return "\n".join((self.subject, *self.lines, f"Open: {self.link}"))


class Channel(Protocol):
    name: str  # a short, stable name: what was sent is kept per channel

    def send(self, message: Message) -> None: ...


class WebhookChannel:
    """A Slack- or Teams-compatible incoming webhook."""

    name = "webhook"

    def __init__(self, url: str) -> None:
        self._url = url
        self.host = urlsplit(url).hostname or "?"

    def __repr__(self) -> str:
        return f"WebhookChannel(host={self.host!r})"

    def send(self, message: Message) -> None:
        try:
            # A connection per message: they are rare, and nothing is left open between.
            with requests.post(self._url, json={"text": message.text()},
                               timeout=TIMEOUT_SECONDS) as answer:
                status = answer.status_code
        except requests.RequestException as exc:
            raise ChannelError(f"notification webhook at {self.host}: {type(exc).__name__}; "
                               "check CONNECTOR_NOTIFY_WEBHOOK_URL") from None
        if not 200 <= status < 300:
            raise ChannelError(f"notification webhook at {self.host} answered "
                               f"{status}; check CONNECTOR_NOTIFY_WEBHOOK_URL")


class EmailChannel:
    """E-mail through an SMTP server: STARTTLS with a verified certificate unless
    CONNECTOR_NOTIFY_SMTP_STARTTLS=false (a relay on loopback)."""

    name = "email"

    def __init__(self, *, host: str, port: int, starttls: bool, sender: str,
                 recipients: list[str], username: str | None = None,
                 password: str | None = None) -> None:
        self.host, self.port, self.starttls = host, port, starttls
        self.sender, self.recipients = sender, recipients
        self._username, self._password = username, password

    def __repr__(self) -> str:
        return f"EmailChannel(host={self.host!r}, port={self.port}, to={len(self.recipients)})"

    def send(self, message: Message) -> None:
        mail = EmailMessage()
        mail["Subject"] = f"[skillgap connector] {message.subject}"
        mail["From"] = self.sender
        mail["To"] = ", ".join(self.recipients)
        mail.set_content(message.text() + "\n")
        try:
            with smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_SECONDS) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self._username:
                    smtp.login(self._username, self._password or "")
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise ChannelError(f"e-mail through {self.host}:{self.port}: "
                               f"{type(exc).__name__}; check CONNECTOR_NOTIFY_SMTP_*") from None


def channels_from(settings: Settings) -> list[Channel]:
    """The channels the settings switch on (none: notifications are off)."""
    found: list[Channel] = []
    if settings.notify_webhook_url is not None:
        found.append(WebhookChannel(settings.notify_webhook_url.get_secret_value()))
    if settings.notify_smtp_host:
        found.append(EmailChannel(
            host=settings.notify_smtp_host, port=settings.notify_smtp_port,
            starttls=settings.notify_smtp_starttls, sender=settings.notify_email_from or "",
            recipients=settings.notify_recipients(), username=settings.notify_smtp_username,
            password=(settings.notify_smtp_password.get_secret_value()
                      if settings.notify_smtp_password else None)))
    return found
