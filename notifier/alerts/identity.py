"""Every alert carries its delivery id, so a copy sent again after a crash is recognisable.

E-mail: a Message-ID made from the delivery id (mail_threads.py). Webhooks on the pooled path: an
`Idempotency-Key` header and `delivery_id` in the JSON body (channels/webhook.py adds them from
this header). Other channels have no such field: a resend is a second message, counted in the ledger.
"""

from __future__ import annotations

import dataclasses

from notifier.alerts.mail_threads import threaded
from notifier.alerts.render import Rendered

IDEMPOTENCY_KEY = "Idempotency-Key"


def identified(rendered: Rendered, url: str, delivery_id: str, parent: str | None = None) -> Rendered:
    """`rendered` with this delivery's identity in the field its channel has for it (and, for an
    e-mail update, its parent alert's, as mail_threads.threaded does)."""
    if rendered.channel == "json":
        return dataclasses.replace(rendered, headers={**rendered.headers, IDEMPOTENCY_KEY: delivery_id})
    return threaded(rendered, url, delivery_id, parent)
