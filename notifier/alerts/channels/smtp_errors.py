"""What an SMTP failure means, the same for our pooled sender (smtp.py) and for Apprise's e-mail
(smtpwatch.py): a failed attempt, a permanent refusal, or a server that is down.

Down, like a webhook provider answering 502/503/504 or not at all: no connection (refused,
unreachable), no answer in time, the connection dropped, a 421 ("service not available, closing
the channel") at any step, or any other 4xx to the greeting or to EHLO/HELO. Nothing is wrong with
the alert, so the tries do not use up NOTIFIER_DELIVERY_MAX_ATTEMPTS (alerts/expiry.py). A 5xx
is a refusal: a failed attempt, or permanent for a login or mailbox that can never work. TLS
failures are not an outage either: a certificate does not come back by itself.
"""

from __future__ import annotations

import smtplib
import ssl

from notifier.alerts.channels.base import DeliveryError, Message, failed
from notifier.core import netguard

PERMANENT_RECIPIENT = {550, 551, 553}  # no such mailbox, not local, bad address: retrying cannot help
CLOSING = 421  # the server is going away (overloaded, shutting down): RFC 5321 4.2.3


class AtGreeting(Exception):
    """Connecting, the greeting or EHLO/HELO failed (its `__cause__` says how): nothing of the
    message was sent, and a 4xx here means the server is not taking mail at all just now."""


def failure(exc: Exception, message: Message) -> DeliveryError:
    """The DeliveryError for what the pooled sender's `exc` means, its text free of the password."""
    greeting = isinstance(exc, AtGreeting) and exc.__cause__ is not None
    cause = exc.__cause__ if greeting else exc
    text = f"{message.where} {describe(cause)}"  # never "url:" - redact_text would eat the colon
    password = message.plugin.password
    if password:
        text = text.replace(password, "***")  # a server may echo what it was sent
    return failed(text, permanent=permanent(cause), unavailable=unavailable(cause, greeting))


def permanent(exc: BaseException) -> bool:
    if isinstance(exc, netguard.AddressRefused):
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return any(code in PERMANENT_RECIPIENT for code, _ in exc.recipients.values())
    # wrong user or password: the URL is wrong, like a 401
    return isinstance(exc, smtplib.SMTPAuthenticationError) and exc.smtp_code == 535


def unavailable(exc: BaseException, greeting: bool) -> bool:
    """The server is down (the module's docstring); `greeting`: `exc` came before any command
    of the message, while connecting, reading the greeting or saying EHLO/HELO."""
    if isinstance(exc, ssl.SSLError | ssl.CertificateError | netguard.GuardError):
        return False
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code == CLOSING for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == CLOSING or (greeting and 400 <= exc.smtp_code < 500)
    return isinstance(exc, OSError | smtplib.SMTPServerDisconnected)  # OSError: refusals and timeouts


def describe(exc: BaseException) -> str:
    if isinstance(exc, netguard.GuardError):
        return str(exc)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(exc.recipients.values()))
        return f"refused the recipient: smtp {code} ({_reply(reply)})"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"answered smtp {exc.smtp_code} ({_reply(exc.smtp_error)})"
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return f"failed in tls ({type(exc).__name__})"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, smtplib.SMTPException | OSError):
        return f"cannot be reached ({type(exc).__name__}: {_reply(str(exc))})"
    return f"could not take the message ({type(exc).__name__})"


def _reply(reply: bytes | str) -> str:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())[:200]
