"""Every alert carries its delivery id, so a copy sent again after a crash is recognisable.

E-mail: a Message-ID made from the delivery id (mail_threads.py). Webhooks on the pooled path: an
`Idempotency-Key` header and `delivery_id` in the JSON body (channels/webhook.py adds them from
this header). Webhooks Apprise sends (json://, form://, xml:// URLs the pooled path leaves to it):
the same header, as Apprise's `+Header=value` URL parameter, added to the URL of that one send
and never stored. Other channels have no such field: a resend is a second message, counted in the ledger.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import urlsplit

from notifier.alerts.mail_threads import threaded
from notifier.alerts.render import Rendered, with_params

IDEMPOTENCY_KEY = "Idempotency-Key"
# Apprise's generic webhooks send every `+Name=value` URL parameter as an HTTP header.
HEADER_SCHEMES = frozenset({"json", "jsons", "form", "forms", "xml", "xmls"})


def identified(rendered: Rendered, url: str, delivery_id: str, parent: str | None = None) -> Rendered:
    """`rendered` with this delivery's identity in the field its channel has for it (and, for an
    e-mail update, its parent alert's, as mail_threads.threaded does)."""
    if rendered.channel == "json" or takes_headers(url):
        return dataclasses.replace(rendered, headers={**rendered.headers, IDEMPOTENCY_KEY: delivery_id})
    return threaded(rendered, url, delivery_id, parent)


def takes_headers(url: str) -> bool:
    return urlsplit(url).scheme.lower() in HEADER_SCHEMES


def apprise_url(rendered: Rendered) -> str:
    """The URL Apprise sends this alert with: for a generic webhook, its identity header is
    carried as a URL parameter (built per send: the key differs for every delivery)."""
    key = rendered.headers.get(IDEMPOTENCY_KEY)
    if not key or not takes_headers(rendered.url_for_apprise):
        return rendered.url_for_apprise
    return with_params(rendered.url_for_apprise, {f"+{IDEMPOTENCY_KEY}": key})
