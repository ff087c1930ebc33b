"""`notifier status`: feeds and their last poll, queue depths, delivery counts, what is waiting,
and the notification URLs that keep failing (gathered by notifier.alerts.overview)."""

from __future__ import annotations

from notifier.alerts.overview import gather_status
from notifier.cli import output
from notifier.cli.common import JsonFlag, redis
from notifier.core import db
from notifier.settings import get_settings

__all__ = ["gather_status", "show_status"]


def show_status(as_json: JsonFlag = False) -> None:
    """Feeds and their last poll, queue depths, delivery counts, what waits, failing URLs."""
    output.print_status(gather_status(redis(), db.broker_url(get_settings())), as_json)
