"""Notification URLs carry tokens: only their scheme and host may ever be shown or logged."""

from __future__ import annotations

import ipaddress
import logging
import re
import threading
from collections import OrderedDict
from urllib.parse import parse_qsl, unquote, urlsplit

# Our own fixed pattern (never user input): anything that looks like scheme://rest-of-token.
# ... never ending on punctuation that belongs to the sentence ("json://host: refused")
URL_PATTERN = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]{1,15})://[^\s'\"<>]*[^\s'\"<>:,.;)]")


def looks_like_host(host: str) -> bool:
    """True for names and addresses; False for tokens that services put where a host would be."""
    if host == "localhost" or "." in host:
        return True
    if ":" not in host:  # neither dotted IPv4 nor IPv6: no address (and no exception to pay for)
        return False
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def redact(url: str) -> str:
    """`scheme://host` for a URL whose host is a real host; `scheme://***` when it is a token."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
    except ValueError:
        return "***"
    scheme = parts.scheme.lower() or "?"
    return f"{scheme}://{host}" if host and looks_like_host(host) else f"{scheme}://***"


# Libraries log pieces of a URL in their own shapes (urllib3: "url: /bot<TOKEN>/sendMessage"), so
# besides rewriting whatever looks like a URL we also mask the secret parts of every notification
# URL this process has handled. Bounded: the recent ones are the ones that get logged.
_SECRETS: OrderedDict[str, None] = OrderedDict()
_SECRETS_LOCK = threading.Lock()
MAX_SECRETS = 4096
MIN_SECRET = 5  # shorter pieces ("to", "yes", port numbers) would mask ordinary words


def secret_parts(url: str) -> set[str]:
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
    except ValueError:
        return set()
    pieces = {parts.username or "", parts.password or ""}
    pieces |= {unquote(p) for p in parts.path.split("/")}
    pieces |= {unquote(v) for _, v in parse_qsl(parts.query)}
    if host and not looks_like_host(host):
        pieces.add(parts.netloc.rsplit("@", 1)[-1])
        pieces.add(host)
    return {p for p in pieces if len(p) >= MIN_SECRET and "@" not in p and not looks_like_host(p)}


def remember_secrets(url: str) -> None:
    with _SECRETS_LOCK:
        for piece in secret_parts(url):
            _SECRETS[piece] = None
            _SECRETS.move_to_end(piece)
        while len(_SECRETS) > MAX_SECRETS:
            _SECRETS.popitem(last=False)


def remember_secret(secret: str) -> None:
    """A whole secret that must never show in a log (the admin token), masked like URL parts."""
    if len(secret) >= MIN_SECRET:
        with _SECRETS_LOCK:
            _SECRETS[secret] = None
            _SECRETS.move_to_end(secret)


def redact_text(text: str) -> str:
    text = URL_PATTERN.sub(lambda m: redact(m.group(0)), text)
    with _SECRETS_LOCK:
        known = [p for p in _SECRETS if p in text]
    for piece in sorted(known, key=len, reverse=True):
        text = text.replace(piece, "***")
    return text


class RedactingFilter(logging.Filter):
    """Rewrites every record so no URL in it, ours or a library's, shows more than its host."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        # a traceback quotes the arguments and locals that failed, URLs included: formatted
        # here, redacted, and kept in exc_text, which every formatter uses instead of its own
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True
