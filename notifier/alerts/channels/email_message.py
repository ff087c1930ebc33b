"""The e-mail a mailto:// URL sends, written byte for byte as Apprise writes it for one recipient.

The MIME is the one `apprise/plugins/email/base.py` builds through the email package
(multipart/alternative with a plain-text rendering for HTML, text/plain otherwise; X-Application,
the URL's `+Header`s, then ours such as List-Unsubscribe and the thread's In-Reply-To/References;
Subject, From, To, Message-ID, Date), so a reader cannot tell the pooled sender from Apprise. A URL
using a feature we do not reproduce is not `supports()`ed.

We write the text ourselves: the email package's message objects and header folding cost ~2 ms
per message, which was the e-mail path's largest cost. What it would write is simple for the
values we send (one line per header, as `as_string()` never folds; non-ASCII as one RFC 2047
encoded word; quoted-printable parts, as Apprise registers utf-8). A value outside that (a line
break, an edge space, an enormous header) is folded by the email package itself, so the bytes
stay its bytes; tests/test_email_bytes.py compares the two over many messages.
"""

from __future__ import annotations

import random
import re
import secrets
import sys
from datetime import datetime
from email import quoprimime
from email.header import Header
from email.policy import compat32
from email.utils import format_datetime, formataddr, make_msgid
from functools import lru_cache

from apprise.common import NotifyFormat
from apprise.conversion import convert_between
from apprise.plugins.email.base import PGP_MODE_DEFAULT
from apprise.plugins.email.common import SecureMailMode

from notifier.alerts.channels.base import Message

# Headers the message sets itself; a URL that sets them is left to Apprise.
OWN_HEADERS = {"subject", "from", "to", "cc", "bcc", "reply-to", "date", "message-id", "autocrypt"}
OWN_HEADERS |= {"mime-version", "content-type", "content-transfer-encoding"}

_FOLD = compat32.clone(max_line_length=0)  # what Message.as_string() folds with: no line limit
# What splits a header into lines (str.splitlines), and past what length an encoded word would be
# split: values with either go to the email package's own folding.
_LINE_BREAK = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_LONGEST = 50_000  # characters; the email package splits an encoded word past ~1,000,000 bytes


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
        boundary = _boundary()
        head = f'Content-Type: multipart/alternative; boundary="{boundary}"\nMIME-Version: 1.0\n'
        plain, html = _part("plain", _plain(body)), _part("html", body)
        text = f"--{boundary}\n{plain}\n--{boundary}\n{html}\n--{boundary}--\n"
    else:
        head, text = _part_head("plain"), _quoted_printable(body)
    lines = [head]
    lines += [_encoded(name, value) for name, value in _headers(plugin, message.headers).items()]
    lines.append(_encoded("Subject", " ".join(message.title.split())))  # one line, never a CR or LF
    lines.append(_plain_line("From", formataddr(tuple(plugin.from_addr), charset="utf-8")))
    lines.append(_plain_line("To", formataddr(plugin.targets[0], charset="utf-8")))
    # ours when given (alerts/mail_threads.py: stable per delivery, so updates can thread under it)
    lines.append(
        _plain_line("Message-ID", message.headers.get("Message-ID") or make_msgid(domain=plugin.smtp_host))
    )
    lines.append(_plain_line("Date", format_datetime(datetime.now(tz=plugin.tzinfo))))
    lines.append("\n")
    lines.append(text)
    return "".join(lines)


def _headers(plugin, extra: dict) -> dict:
    """X-Application, the URL's `+Header`s, then ours (List-Unsubscribe) unless the URL has them."""
    headers = {"X-Application": plugin.app_id, **plugin.headers}
    taken = {name.lower() for name in headers}
    headers |= {k: v for k, v in extra.items() if k.lower() not in taken and k.lower() not in OWN_HEADERS}
    return {name: " ".join(str(value).split()) for name, value in headers.items()}  # no header injection


def _part_head(subtype: str) -> str:
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\n'
        "MIME-Version: 1.0\nContent-Transfer-Encoding: quoted-printable\n"
    )


def _part(subtype: str, body: str) -> str:
    """A MIMEText(body, subtype, "utf-8") as the generator writes it inside a multipart."""
    return f"{_part_head(subtype)}\n{_quoted_printable(body)}"


def _quoted_printable(body: str) -> str:
    # the email package encodes the UTF-8 bytes, seen one character per byte
    return quoprimime.body_encode(body.encode("utf-8").decode("latin-1"))


def _encoded(name: str, value: str) -> str:
    """`Name: value` as Header(value, None or "utf-8") is written: ASCII as it is (as Apprise:
    encoded ASCII looks like spam), anything else as one quoted-printable encoded word."""
    if not _simple(value):
        return _FOLD.fold(name, Header(value, None if value.isascii() else "utf-8"))
    if value.isascii():
        return f"{name}: {value}\n"
    return f"{name}: {quoprimime.header_encode(value.encode('utf-8'), charset='utf-8')}\n"


def _plain_line(name: str, value: str) -> str:
    """`Name: value` as a str header is written (From, To, Message-ID, Date: ASCII as a rule)."""
    return f"{name}: {value}\n" if value.isascii() and _simple(value) else _FOLD.fold(name, value)


def _simple(value: str) -> bool:
    return len(value) < _LONGEST and value[-1:] not in (" ", "\t") and not _LINE_BREAK.search(value)


def _boundary() -> str:
    """A boundary as the email package would pick it. The parts are quoted-printable, where a run
    of 15 '=' cannot occur, so it never needs checking against them."""
    return "=" * 15 + f"{random.randrange(sys.maxsize):019d}" + "=="


# The readers of one story get the same HTML but for their unsubscribe and manage tokens: its
# plain-text copy (Apprise's HTML-to-text, a quarter of building an e-mail) is made once per
# story, each reader's tokens put back after. The converter treats any 32 hex digits alike.
_STAND_INS = [secrets.token_hex(16) for _ in range(4)]
_TOKEN = re.compile(r"/(?:unsubscribe|manage)/([0-9a-f]{32})\b")


def _plain(html: str) -> str:
    tokens = list(dict.fromkeys(_TOKEN.findall(html)))
    if not tokens or len(tokens) > len(_STAND_INS) or any(s in html for s in _STAND_INS):
        return convert_between(NotifyFormat.HTML, NotifyFormat.TEXT, html)
    shared = html
    for token, stand_in in zip(tokens, _STAND_INS, strict=False):
        shared = shared.replace(token, stand_in)
    text = _plain_shared(shared)
    for token, stand_in in zip(tokens, _STAND_INS, strict=False):
        text = text.replace(stand_in, token)
    if any(s in text for s in _STAND_INS):  # a stand-in the converter cut: convert this one whole
        return convert_between(NotifyFormat.HTML, NotifyFormat.TEXT, html)
    return text


@lru_cache(maxsize=64)
def _plain_shared(html: str) -> str:
    return convert_between(NotifyFormat.HTML, NotifyFormat.TEXT, html)
