"""Counting what arrived, from the sinks, against what was published; then the ledger beside it.

An arrival is keyed by (story title, sink address): "hook:/ana" for a webhook path,
"mail:ana@example.com" for a recipient. Its identity is what a receiver would deduplicate on:
the webhook's Idempotency-Key, the e-mail's Message-ID.
"""

from __future__ import annotations

import json
from collections import defaultdict

from notifier.models import url_hash


def arrivals(hooks, smtp) -> dict[tuple[str, str], list[str]]:
    """(title, address) -> the identities of every copy that arrived, in order."""
    got: dict[tuple[str, str], list[str]] = defaultdict(list)
    for request in list(hooks.requests):
        body = json.loads(request["body"])
        got[(body.get("title", ""), f"hook:{request['path']}")].append(
            request["headers"].get("Idempotency-Key") or "(none)"
        )
    for message in list(smtp.messages):
        for to in message["To"].addresses:
            got[(str(message["Subject"]), f"mail:{to.addr_spec}")].append(str(message["Message-ID"]))
    return got


def tally(published, got) -> dict:
    """lost, duplicated (same identity / different identity) and unexpected, from the sinks."""
    expected = {(s.title, address) for s in published for address in s.expected}
    lost = sorted(expected - set(got))
    copies = {key: ids for key, ids in got.items() if len(ids) > 1}
    same = {k: ids for k, ids in copies.items() if len(set(ids)) == 1}
    different = {k: ids for k, ids in copies.items() if len(set(ids)) > 1}
    unexpected = sorted(set(got) - expected)
    return {
        "stories": len(published),
        "stories_syndicated": sum(len(s.feeds) > 1 for s in published),
        "stories_matching_nobody": sum(not s.expected for s in published),
        "expected_alerts": len(expected),
        "received_alerts": sum(len(ids) for ids in got.values()),
        "lost": len(lost),
        "duplicated_same_identity": sum(len(ids) - 1 for ids in same.values()),
        "duplicated_different_identity": sum(len(ids) - 1 for ids in different.values()),
        "unexpected": len(unexpected),
        "examples": {
            "lost": [list(k) for k in lost[:5]],
            "different_identity": [[*k, ids] for k, ids in list(different.items())[:5]],
            "unexpected": [list(k) for k in unexpected[:5]],
        },
    }


def address_hashes(hooks, smtp, readers) -> dict[tuple[str, str], str]:
    """(subscriber, url hash in the ledger) -> sink address."""
    found = {}
    for reader in readers:
        for path in reader.hooks:
            found[(reader.name, url_hash(hooks.url(path)))] = f"hook:{path}"
        for to in reader.mail:
            found[(reader.name, url_hash(smtp.url(to)))] = f"mail:{to}"
    return found


def ledger_view(rows: list[dict], titles: dict[str, str], addresses: dict, published) -> dict:
    """The ledger (`notifier deliveries --json`) beside the sinks' count."""
    expected = {(s.title, address) for s in published for address in s.expected}
    keyed = defaultdict(list)
    for row in rows:
        address = addresses.get((row["subscriber"], row["url_hash"]), "?")
        keyed[(titles.get(row["story"], "?"), address)].append(row)
    states = defaultdict(int)
    for row in rows:
        states[row["state"]] += 1
    return {
        "rows": len(rows),
        "states": dict(sorted(states.items())),
        "resent_after_interruption": sum(int(row.get("resent") or 0) for row in rows),
        "expected_without_row": len(expected - set(keyed)),
        "rows_not_expected": sum(len(v) for k, v in keyed.items() if k not in expected),
        "expected_with_two_rows": sum(len(v) > 1 for k, v in keyed.items() if k in expected),
    }


def table(summary: dict) -> str:
    """The lines docs/reliability.md quotes."""
    sinks, ledger, run = summary["sinks"], summary["ledger"], summary["run"]
    lines = [
        f"soak (seed {run['seed']}): {run['seconds']:.0f} s, {run['feeds']} feeds, "
        f"{run['restarts']} restarts "
        f"({run['sigkill']} SIGKILL, {run['sigterm']} SIGTERM, {run['sigkill_supervisor_alone']} SIGKILL "
        f"to the node's supervisor alone), drained in {run['drain_seconds']:.0f} s",
        f"{'what':<38}{'count':>8}",
    ]
    for key in (
        "stories",
        "stories_syndicated",
        "stories_matching_nobody",
        "expected_alerts",
        "received_alerts",
        "lost",
        "duplicated_same_identity",
        "duplicated_different_identity",
        "unexpected",
    ):
        lines.append(f"{'sinks: ' + key.replace('_', ' '):<38}{sinks[key]:>8}")
    for key in ("rows", "resent_after_interruption", "expected_without_row", "rows_not_expected"):
        lines.append(f"{'ledger: ' + key.replace('_', ' '):<38}{ledger[key]:>8}")
    lines.append(f"ledger states: {ledger['states']}")
    lines.append(f"{'processes left behind by a stop':<38}{run['left_processes_behind']:>8}")
    lines.append(f"restarts: {dict(sorted(run['by_part'].items()))}")
    return "\n".join(lines)
