"""Notification URLs carry tokens: only their scheme and host may ever be shown or logged."""

from __future__ import annotations

import ipaddress
import logging
import re
from urllib.parse import urlsplit

# Our own fixed pattern (never user input): anything that looks like scheme://rest-of-token.
URL_PATTERN = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]{1,15})://[^\s'\"<>]+")


def looks_like_host(host: str) -> bool:
    """True for names and addresses; False for tokens that services put where a host would be."""
    if host == "localhost" or "." in host:
        return True
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


def redact_text(text: str) -> str:
    return URL_PATTERN.sub(lambda m: redact(m.group(0)), text)


class RedactingFilter(logging.Filter):
    """Rewrites every record so no URL in it, ours or a library's, shows more than its host."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "://" in message:
            record.msg, record.args = redact_text(message), None
        return True


def install_log_redaction(level: str = "INFO") -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    root.setLevel(level)
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
