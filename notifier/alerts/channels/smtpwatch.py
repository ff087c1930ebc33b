"""What went wrong in an Apprise e-mail send, which Apprise does not report.

Apprise's e-mail plugin catches every SMTP error itself and says only `Connection error while
submitting email` (refused, timed out, 421, a wrong password alike) or that sending failed; the
exception goes to a debug line. Every Apprise e-mail goes through `smtplib.SMTP`: `connect`
(connection and greeting), `ehlo_or_helo_if_needed` (EHLO/HELO, before STARTTLS, login or the
first message) and `sendmail`. `install()` wraps those three once per process; inside a `watch()`
they note what they raised (and a greeting other than 220) and pass everything on untouched, so
the failure means what it means on our pooled sender (smtp_errors). Outside a watch, and in our
pooled sender's lane threads, nothing is noted. Like httpwatch, the watch is a ContextVar that
Apprise copies into the threads it sends from.
"""

from __future__ import annotations

import contextvars
import functools
import smtplib
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from notifier.alerts.channels import smtp_errors
from notifier.alerts.channels.base import noting_in

__all__ = ["Seen", "install", "watch"]

_current: contextvars.ContextVar[Seen | None] = contextvars.ContextVar("notifier_smtpwatch", default=None)
_install_lock = threading.Lock()
GREETING_STEPS = ("connect", "ehlo_or_helo_if_needed")


@dataclass
class Seen:
    """What smtplib raised in one watched send: (exception, before any command of the message)."""

    errors: list[tuple[BaseException, bool]] = field(default_factory=list)

    @property
    def unavailable(self) -> bool:
        """The SMTP server is down (smtp_errors.unavailable): the alert itself is fine."""
        return bool(self.errors) and all(smtp_errors.unavailable(exc, early) for exc, early in self.errors)

    @property
    def permanent(self) -> bool:
        """The server refused the login or the mailbox for good."""
        return any(smtp_errors.permanent(exc) for exc, _ in self.errors)


def install() -> None:
    """Wrap smtplib's three steps once per process; calling it again does nothing."""
    with _install_lock:
        for name in (*GREETING_STEPS, "sendmail"):
            original = getattr(smtplib.SMTP, name)
            if not getattr(original, "_smtpwatch", False):
                setattr(smtplib.SMTP, name, _noting(original, name in GREETING_STEPS))


def _noting(original, greeting: bool):
    @functools.wraps(original)
    def step(self, *args, **kwargs):
        seen = _current.get()
        if seen is None:
            return original(self, *args, **kwargs)
        try:
            result = original(self, *args, **kwargs)
        except Exception as exc:
            _note(seen, exc, greeting)
            raise
        if original.__name__ == "connect" and result[0] != 220:  # smtplib raises this after connect
            _note(seen, smtplib.SMTPConnectError(*result), True)
        return result

    step._smtpwatch = True
    return step


def _note(seen: Seen, exc: BaseException, greeting: bool) -> None:
    """The innermost step that raised knows the stage (sendmail says EHLO itself first)."""
    if not any(exc is known for known, _ in seen.errors):
        seen.errors.append((exc, greeting))  # list.append is atomic across Apprise's threads


def watch() -> AbstractContextManager[Seen]:
    """Note what smtplib raises inside this block (and in threads Apprise starts from it)."""
    install()
    return noting_in(_current, Seen())
