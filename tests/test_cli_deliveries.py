"""`notifier deliveries` as an operator looks through the ledger: by state, subscriber and story,
as many rows as asked for, and the filters reach past the newest rows shown. Through the installed
script against a real Redis; the ledger rows are written by the ledger's own functions."""

from __future__ import annotations

import json
import time

import pytest

from notifier.alerts import ledger
from notifier.models import Subscriber, url_hash
from notifier.stories import store
from tests.test_cli import all_refused, refused, run_cli
from tests.test_cli_commands import DELIVERY_KEYS, ok

HOOK = "json://127.0.0.1:9/hook"
TARGET = "json://127.0.0.1"


@pytest.fixture
def cli(redis_url, tmp_path):
    return lambda *args: run_cli(redis_url, tmp_path, *args)


def alert(r, story: str, subscriber: str, held: bool = False) -> str:
    """One ledger row, pending (or held until tomorrow): its id."""
    row = (story, subscriber, url_hash(HOOK), TARGET, *([time.time() + 86400] if held else []))
    ledger.create(r, [row], ttl=3600, lease_until=0)
    return ledger.delivery_id(story, subscriber, url_hash(HOOK))


def ids(cli, *args: str) -> list[str]:
    rows = json.loads(ok(cli("deliveries", "--json", *args)))
    assert all(DELIVERY_KEYS <= set(d) for d in rows)
    return [d["id"] for d in rows]


@pytest.fixture
def ledger_rows(r) -> dict[str, str]:
    """Seven alerts, oldest first, one in every state an operator filters by."""
    for name in ("ann", "bob", "cy"):
        store.add_subscriber(r, Subscriber(name, (HOOK,), ()))
    made = {
        "s1 ann sent": alert(r, "s1", "ann"),
        "s1 bob failed": alert(r, "s1", "bob"),
        "s1 cy dropped": alert(r, "s1", "cy"),
        "s2 ann retrying": alert(r, "s2", "ann"),
        "s2 bob held": alert(r, "s2", "bob", held=True),
        "s2 cy pending": alert(r, "s2", "cy"),
        "s3 ann sent": alert(r, "s3", "ann"),
    }
    ledger.sent_many(r, [made["s1 ann sent"], made["s3 ann sent"]])
    ledger.finish(r, made["s1 bob failed"], "failed", error="HTTP 500")
    ledger.finish(r, made["s1 cy dropped"], "dropped", error="too old")
    ledger.finish(r, made["s2 ann retrying"], "retrying", error="HTTP 503", next_at=time.time() + 60)
    return made


def test_each_filter_alone_and_together_in_json(cli, ledger_rows):
    row = ledger_rows
    newest_first = list(reversed(row.values()))
    assert ids(cli) == newest_first
    assert ids(cli, "--state", "sent") == [row["s3 ann sent"], row["s1 ann sent"]]
    assert ids(cli, "--state", "held") == [row["s2 bob held"]]
    waiting = [row["s2 cy pending"], row["s2 bob held"], row["s2 ann retrying"]]
    assert ids(cli, "--state", "waiting") == waiting
    assert ids(cli, "--state", "failed", "--state", "dropped") == ids(cli, "--failed")
    assert ids(cli, "--failed") == [row["s1 cy dropped"], row["s1 bob failed"]]
    assert ids(cli, "--subscriber", "ann") == [row["s3 ann sent"], row["s2 ann retrying"], row["s1 ann sent"]]
    assert ids(cli, "--subscriber", "ann", "--state", "sent", "--limit", "1") == [row["s3 ann sent"]]
    assert ids(cli, "--story", "s2") == [row["s2 ann retrying"], row["s2 bob held"], row["s2 cy pending"]]
    assert ids(cli, "--story", "s2", "--limit", "2") == [row["s2 ann retrying"], row["s2 bob held"]]
    assert ids(cli, "--story", "s1", "--subscriber", "bob") == [row["s1 bob failed"]]
    assert ids(cli, "--story", "s3", "--state", "waiting") == []
    assert ids(cli, "--limit", "3") == newest_first[:3]


def test_the_table_shows_the_same_rows_as_the_json(cli, ledger_rows):
    table = ok(cli("deliveries", "--subscriber", "bob", "--state", "waiting"))
    assert ledger_rows["s2 bob held"] in table
    assert all(did not in table for key, did in ledger_rows.items() if key != "s2 bob held")
    table = ok(cli("deliveries", "--limit", "2"))
    shown = [did for did in ledger_rows.values() if did in table]
    assert shown == [ledger_rows["s2 cy pending"], ledger_rows["s3 ann sent"]]
    assert "--limit N shows more" in table
    assert "--limit N" not in ok(cli("deliveries", "--limit", "7"))


def test_a_filter_finds_rows_older_than_the_newest_thousand(cli, r):
    """The old listing took the newest 1,000 rows and filtered those: bob's failed alert, under
    1,200 newer ones, was never shown to anyone asking for bob's or for failed alerts."""
    store.add_subscriber(r, Subscriber("bob", (HOOK,), ()))
    old = alert(r, "s0", "bob")
    ledger.finish(r, old, "failed", error="HTTP 500")
    rows = [(f"s{n}", "ann", url_hash(HOOK), TARGET) for n in range(1, 1201)]
    for first in range(0, len(rows), 400):
        ledger.create(r, rows[first : first + 400], ttl=3600, lease_until=0)
    assert ids(cli, "--subscriber", "bob") == [old]
    assert ids(cli, "--failed") == ids(cli, "--state", "failed") == [old]
    assert len(ids(cli)) == 1000  # the default, as before
    everything = ids(cli, "--limit", "5000")
    assert len(everything) == 1201 and everything[-1] == old
    assert "--limit N shows more" in ok(cli("deliveries"))


def test_a_bad_value_is_one_line_and_exit_2(cli, ledger_rows):
    all_refused(
        cli,
        [
            (["deliveries", "--limit", "0"], ["--limit"]),
            (["deliveries", "--limit", "-3"], ["--limit"]),
            (["deliveries", "--limit", "many"], ["--limit"]),
            (["deliveries", "--state", "lost"], ["lost", "sent", "waiting"]),
            (["deliveries", "--state", "sent", "--state", "Sent"], ["Sent"]),
            (["deliveries", "--story", "nope"], ["no story", "nope"]),
            (["deliveries", "--subscriber", "nobody"], ["no subscriber", "nobody"]),
        ],
    )
    refused(cli("deliveries", "--json", "--state", ""), "delivery state")


def test_a_removed_subscriber_s_deliveries_still_list(cli, r, ledger_rows):
    store.remove_subscriber(r, "cy")
    assert ids(cli, "--subscriber", "cy") == [ledger_rows["s2 cy pending"], ledger_rows["s1 cy dropped"]]
