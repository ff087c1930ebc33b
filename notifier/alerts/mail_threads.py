"""E-mail threads for updates of one event: every alert's Message-ID is made from its delivery id,
so an update can name the first alert of its event in In-Reply-To and References and mail readers
show them as one conversation. The same id on a resend also lets a receiver drop a second copy.

The pooled sender writes these headers itself. Through Apprise, In-Reply-To and References go as
`+Header=` URL parameters; the Message-ID cannot (Apprise writes its own after the URL's headers,
and a message with two is refused by strict receivers), so channels/via_apprise.py has Apprise
use ours instead.
"""

from __future__ import annotations

import dataclasses

from notifier.alerts.apprise_params import with_params
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
    thread = {"In-Reply-To": message_id(parent, url), "References": message_id(parent, url)} if parent else {}
    for_apprise = with_params(rendered.url_for_apprise, {f"+{k}": v for k, v in thread.items()})
    return dataclasses.replace(
        rendered, headers={**rendered.headers, **headers, **thread}, url_for_apprise=for_apprise
    )
