"""Subscribers stored in bulk (an import, the fan-out benchmark) look exactly like those stored one
by one: the same records, the same topic indexes, read back the same way."""

from __future__ import annotations

from notifier.models import Subscriber, Topic
from notifier.stories import store


def _audience() -> list[Subscriber]:
    return [
        Subscriber("ana", ("json://hooks.example.com/a", "mailto://u:p@mail.example.com"), ("quake",)),
        Subscriber(
            "bo", ("json://hooks.example.com/b",), ("quake", "vote"), quiet="22:00-07:00", tz="Europe/Paris"
        ),
        Subscriber("cy", ("json://hooks.example.com/c",), ("vote",), updates=True, digest="daily"),
    ]


def _snapshot(r) -> dict:
    keys = ["subscribers"] + [f"topic:{t}:targets" for t in ("quake", "vote")]
    return {key: r.hgetall(key) for key in keys} | {
        f"topic:{t}:subs": r.smembers(f"topic:{t}:subs") for t in ("quake", "vote")
    }


def test_bulk_writes_what_one_by_one_writes(r):
    for name in ("quake", "vote"):
        store.add_topic(r, Topic(name, name))
    for sub in _audience():
        store.add_subscriber(r, sub)
    one_by_one = _snapshot(r)
    r.delete("subscribers", *[f"topic:{t}:{k}" for t in ("quake", "vote") for k in ("subs", "targets")])

    store.add_new_subscribers(r, _audience(), chunk=2)

    assert _snapshot(r) == one_by_one
    assert store.get_subscriber(r, "bo") == _audience()[1]
    assert set(store.targets_of(r, ["quake"])) == {
        store.target_field("ana", u) for u in _audience()[0].urls
    } | {store.target_field("bo", "json://hooks.example.com/b")}
