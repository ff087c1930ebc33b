"""E-mail threads for updates of one event: every alert's Message-ID is made from its delivery id,
so an update can name the first alert of its event in In-Reply-To and References and mail readers
show them as one conversation. The same id on a resend also lets a receiver drop a second copy."""

from __future__ import annotations

import dataclasses

from notifier.alerts.channels.base import plugin_for
from notifier.alerts.render import Rendered


def message_id(delivery_id: str, url: str) -> str:
    host = getattr(plugin_for(url), "smtp_host", None) or "notifier.invalid"
    return f"<{delivery_id}.notifier@{host}>"


def threaded(rendered: Rendered, url: str, delivery_id: str, parent: str | None) -> Rendered:
    """The e-mail with its own Message-ID and, for an update, the first alert's as its parent."""
    if rendered.channel != "email":
        return rendered
    headers = {"Message-ID": message_id(delivery_id, url)}
    if parent:
        headers |= {"In-Reply-To": message_id(parent, url), "References": message_id(parent, url)}
    return dataclasses.replace(rendered, headers={**rendered.headers, **headers})
