"""Rendering and sending one alert the way the service does it for a ledger row.

Tests go through `notifier.alerts.sending` (what dispatch runs), not through a test-only shortcut.
"""

from __future__ import annotations

import json

from notifier.alerts import sending
from notifier.alerts.channels.base import DeliveryError
from notifier.alerts.render import Rendered
from notifier.models import Delivery, url_hash
from notifier.stories import store


def _row(r, subscriber: str, url: str, story: dict) -> tuple[Delivery, set[str]]:
    r.set(f"story:{story['id']}", json.dumps(story), ex=3600)
    row = Delivery(
        id=f"t-{story['id']}", story=story["id"], subscriber=subscriber, url_hash=url_hash(url), target="-"
    )
    known = {subscriber} if store.get_subscriber(r, subscriber, missing_ok=True) else set()
    return row, known


def rendered_for_row(r, settings, subscriber: str, url: str, story: dict) -> Rendered:
    """What the service renders for this subscriber's URL: matched topics, unsubscribe link."""
    row, known = _row(r, subscriber, url, story)
    rendered, _ = sending.render_batch(r, [row], {row.id: url}, settings, known)
    return rendered[row.id]


def send_for_row(r, settings, subscriber: str, url: str, story: dict) -> DeliveryError | None:
    """Render and send as the service does (pooled path for json/mailto, Apprise for the rest)."""
    row, known = _row(r, subscriber, url, story)
    return sending.send_rendered(r, [row], {row.id: url}, settings, known)[row.id]
