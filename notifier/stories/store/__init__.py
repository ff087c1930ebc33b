"""The store: feeds, topics and subscribers in Redis, one import for every caller.

`feeds` keeps feeds and their schedule; `audience` keeps topics and subscribers with the indexes
fan-out reads. Callers write `store.add_feed(...)`, `store.get_subscriber(...)`.
"""

from __future__ import annotations

from notifier.stories.store.audience import (
    REMOVE_TOPIC_LUA,
    SUBSCRIBER_FIELDS,
    add_new_subscribers,
    add_subscriber,
    add_topic,
    create_topic,
    disable_url,
    get_subscriber,
    get_subscribers,
    list_subscribers,
    list_topics,
    remove_subscriber,
    remove_topic,
    subscribers_of,
    target_entry,
    target_field,
    targets_in_steps,
    targets_of,
    topic_exists,
)
from notifier.stories.store.feeds import (
    FEED_FIELDS,
    FeedWrites,
    NotFound,
    add_feed,
    disable_feed,
    enable_feed,
    feed_id_for,
    find_feed,
    get_feed,
    get_feeds,
    list_feeds,
    remove_feed,
    update_feed,
)

__all__ = [
    "FEED_FIELDS",
    "FeedWrites",
    "NotFound",
    "REMOVE_TOPIC_LUA",
    "SUBSCRIBER_FIELDS",
    "add_feed",
    "add_new_subscribers",
    "add_subscriber",
    "add_topic",
    "create_topic",
    "disable_feed",
    "disable_url",
    "enable_feed",
    "feed_id_for",
    "find_feed",
    "get_feed",
    "get_feeds",
    "get_subscriber",
    "get_subscribers",
    "list_feeds",
    "list_subscribers",
    "list_topics",
    "remove_feed",
    "remove_subscriber",
    "remove_topic",
    "subscribers_of",
    "target_entry",
    "target_field",
    "targets_in_steps",
    "targets_of",
    "topic_exists",
    "update_feed",
]
