"""The e-mail a mailto:// URL sends, built exactly as Apprise builds it for one recipient.

The MIME is the one `apprise/plugins/email/base.py` writes (multipart/alternative with a
plain-text rendering for HTML, text/plain otherwise; X-Application, the URL's `+Header`s, then
ours such as List-Unsubscribe; Subject, From, To, Message-ID, Date), so a reader cannot tell the
pooled sender from Apprise. A URL using a feature we do not reproduce is not `supports()`ed.
"""

from __future__ import annotations

from datetime import datetime
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, make_msgid

from apprise.common import NotifyFormat
from apprise.conversion import convert_between
from apprise.plugins.email.base import PGP_MODE_DEFAULT
from apprise.plugins.email.common import SecureMailMode

from notifier.alerts.channels.base import Message

# Headers the message sets itself; a URL that sets them is left to Apprise.
OWN_HEADERS = {"subject", "from", "to", "cc", "bcc", "reply-to", "date", "message-id", "autocrypt"}
OWN_HEADERS |= {"mime-version", "content-type", "content-transfer-encoding"}


def supports(plugin) -> bool:
    return bool(
        len(plugin.targets) == 1
        and not (plugin.cc or plugin.bcc or plugin.reply_to)
        and plugin.pgp_mode == PGP_MODE_DEFAULT
        and not plugin.use_wkd
        and plugin.secure_mode in (SecureMailMode.INSECURE, SecureMailMode.SSL, SecureMailMode.STARTTLS)
        and plugin.smtp_host
        and not any(name.strip().lower() in OWN_HEADERS for name in plugin.headers)
    )


def build(message: Message) -> str:
    """The message as Apprise's `prepare_emails` writes it for this plugin's one recipient."""
    plugin, body = message.plugin, message.body
    if message.body_format == NotifyFormat.HTML:
        mime = MIMEMultipart("alternative")
        mime.attach(MIMEText(convert_between(NotifyFormat.HTML, NotifyFormat.TEXT, body), "plain", "utf-8"))
        mime.attach(MIMEText(body, "html", "utf-8"))
    else:
        mime = MIMEText(body, "plain", "utf-8")
    for name, value in _headers(plugin, message.headers).items():
        mime[name] = Header(value, _charset(value))
    subject = " ".join(message.title.split())  # one header line, never a CR or LF
    mime["Subject"] = Header(subject, _charset(subject))
    mime["From"] = formataddr(tuple(plugin.from_addr), charset="utf-8")
    mime["To"] = formataddr(plugin.targets[0], charset="utf-8")
    # ours when given (alerts/mail_threads.py: stable per delivery, so updates can thread under it)
    mime["Message-ID"] = message.headers.get("Message-ID") or make_msgid(domain=plugin.smtp_host)
    mime["Date"] = format_datetime(datetime.now(tz=plugin.tzinfo))
    return mime.as_string()


def _headers(plugin, extra: dict) -> dict:
    """X-Application, the URL's `+Header`s, then ours (List-Unsubscribe) unless the URL has them."""
    headers = {"X-Application": plugin.app_id, **plugin.headers}
    taken = {name.lower() for name in headers}
    headers |= {k: v for k, v in extra.items() if k.lower() not in taken and k.lower() not in OWN_HEADERS}
    return {name: " ".join(str(value).split()) for name, value in headers.items()}  # no header injection


def _charset(text: str) -> str | None:
    return None if text.isascii() else "utf-8"  # as Apprise: encoded ASCII looks like spam
