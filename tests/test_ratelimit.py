"""Token buckets in the real Redis: shared by every worker, paced by Redis's own clock.

Most tests pass `now=` so the bucket's arithmetic is checked exactly, without waiting; the ones
that use the server clock only ever compare counts, or wait what the bucket itself said.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from notifier.alerts.pacing import (
    Rate,
    block,
    destination_keys,
    parse_rate,
    split_rate_override,
    take,
    take_all,
)

ROOT = Path(__file__).resolve().parent.parent
BOT = "123456789:AAHsecretTOKENsecretTOKENsecret42"
SLACK = ("T1JJ3T3L2", "A1BRTD4JD", "TIiajkdnlazkcOXrIdevi7FQ")
DISCORD = ("4174216298", "JHMHI71s_rSVXV1HxbR2RrCCxmmy")


def grants(r, key, rate, now, tries):
    return sum(take(r, key, rate, now=now) == 0.0 for _ in range(tries))


def test_a_bucket_grants_its_burst_at_once_then_paces_at_its_rate(r):
    rate = Rate(per_second=2.0, burst=3)
    assert grants(r, "rl:test:a", rate, now=1000.0, tries=10) == 3
    assert take(r, "rl:test:a", rate, now=1000.0) == pytest.approx(0.5)
    assert take(r, "rl:test:a", rate, now=1000.5) == 0.0
    assert take(r, "rl:test:a", rate, now=1000.5) == pytest.approx(0.5)
    assert grants(r, "rl:test:a", rate, now=1002.0, tries=10) == 3


def test_a_bucket_left_alone_fills_up_to_its_burst_and_no_further(r):
    rate = Rate(per_second=10.0, burst=4)
    grants(r, "rl:test:idle", rate, now=1000.0, tries=4)
    assert grants(r, "rl:test:idle", rate, now=5000.0, tries=100) == 4


def test_taking_again_after_the_returned_wait_succeeds(r):
    rate = Rate(per_second=5.0, burst=1)
    assert take(r, "rl:test:wait", rate) == 0.0
    wait = take(r, "rl:test:wait", rate)
    assert 0.0 < wait <= 0.2
    time.sleep(wait)
    assert take(r, "rl:test:wait", rate) == 0.0


def test_a_refused_take_takes_nothing(r):
    rate = Rate(per_second=1.0, burst=1)
    take(r, "rl:test:refused", rate, now=1000.0)
    for _ in range(50):
        take(r, "rl:test:refused", rate, now=1000.9)
    assert take(r, "rl:test:refused", rate, now=1001.0) == 0.0


def test_take_all_takes_from_every_bucket_or_from_none(r):
    roomy, tight = Rate(per_second=1.0, burst=5), Rate(per_second=1.0, burst=1)
    take(r, "rl:test:tight", tight, now=1000.0)
    pair = [("rl:test:roomy", roomy), ("rl:test:tight", tight)]
    assert take_all(r, pair, now=1000.0) > 0
    assert grants(r, "rl:test:roomy", roomy, now=1000.0, tries=10) == 5
    assert take_all(r, [("rl:test:other", roomy), ("rl:test:tight", tight)], now=1001.0) == 0.0
    assert take(r, "rl:test:other", roomy, now=1001.0) == 0.0
    assert grants(r, "rl:test:other", roomy, now=1001.0, tries=10) == 3


def test_take_all_answers_with_the_longest_wait(r):
    slow, fast = Rate(per_second=0.25, burst=1), Rate(per_second=2.0, burst=1)
    keys = [("rl:test:fast", fast), ("rl:test:slow", slow)]
    assert take_all(r, keys, now=1000.0) == 0.0
    assert take_all(r, keys, now=1000.0) == pytest.approx(4.0)


def test_a_blocked_destination_gets_nothing_until_the_block_ends(r):
    rate = Rate(per_second=100.0, burst=100)
    block(r, "rl:test:blocked", 30, now=1000.0)
    assert take(r, "rl:test:blocked", rate, now=1010.0) == pytest.approx(20.0)
    assert take_all(r, [("rl:test:free", rate), ("rl:test:blocked", rate)], now=1010.0) == pytest.approx(20.0)
    assert take(r, "rl:test:blocked", rate, now=1030.0) == 0.0


def test_a_shorter_block_never_shortens_a_longer_one(r):
    rate = Rate(per_second=1.0, burst=1)
    block(r, "rl:test:twice", 60, now=1000.0)
    block(r, "rl:test:twice", 5, now=1001.0)
    assert take(r, "rl:test:twice", rate, now=1010.0) == pytest.approx(50.0)


def test_a_block_on_the_server_clock_is_honoured(r):
    rate = Rate(per_second=100.0, burst=100)
    block(r, "rl:test:retry-after", 0.3)
    wait = take(r, "rl:test:retry-after", rate)
    assert 0.0 < wait <= 0.3
    time.sleep(wait)
    assert take(r, "rl:test:retry-after", rate) == 0.0


def test_buckets_and_blocks_expire_so_idle_destinations_cost_nothing(r):
    take(r, "rl:test:ttl", Rate(per_second=10.0, burst=20))
    block(r, "rl:test:blocked-ttl", 600)
    assert 0 < r.pttl("rl:test:ttl") <= 3000
    assert 600_000 < r.pttl("rl:test:blocked-ttl") <= 601_000


@pytest.mark.parametrize(
    "url, prefix, rate",
    [
        (f"tgram://{BOT}/12345", "rl:tgram:chat:", Rate(1.0, 1)),
        (f"tgram://{BOT}/-100123456", "rl:tgram:chat:", Rate(20 / 60, 1)),
        ("slack://{}/{}/{}/#general".format(*SLACK), "rl:slack:hook:", Rate(1.0, 3)),
        ("https://hooks.slack.com/services/{}/{}/{}".format(*SLACK), "rl:slack:hook:", Rate(1.0, 3)),
        ("discord://{}/{}".format(*DISCORD), "rl:discord:hook:", Rate(2.5, 5)),
        ("ntfys://ntfy.example.org/alerts", "rl:ntfy:host:ntfy.example.org", Rate(10.0, 20)),
        ("ntfy://alerts", "rl:ntfy:host:ntfy.sh", Rate(0.2, 60)),
        ("https://ntfy.sh/alerts", "rl:ntfy:host:ntfy.sh", Rate(0.2, 60)),
        ("mailto://user:secretpass@gmail.com", "rl:mailto:host:smtp.gmail.com", Rate(10.0, 20)),
        ("mailtos://u:pw@example.com?smtp=mx.example.com", "rl:mailto:host:mx.example.com", Rate(10.0, 20)),
        ("json://hooks.example.com/x", "rl:webhook:host:hooks.example.com", Rate(50.0, 100)),
        ("forms://hooks.example.com/x", "rl:webhook:host:hooks.example.com", Rate(50.0, 100)),
        ("gotify://gotify.example.com/apptoken", "rl:gotifys:host:gotify.example.com", Rate(5.0, 10)),
        ("pover://userkey@apptoken", "rl:pover:host:", Rate(5.0, 10)),
    ],
)
def test_each_destination_gets_its_providers_published_limit(url, prefix, rate):
    key, found = destination_keys(url)[0]
    assert key.startswith(prefix) and found == rate


def test_a_telegram_send_takes_from_each_chat_and_from_the_bot(r):
    keys = destination_keys(f"tgram://{BOT}/111/222")
    assert [k.split(":")[2] for k, _ in keys] == ["chat", "chat", "bot"]
    assert keys[-1][1] == Rate(30.0, 30)
    other_bot = destination_keys("tgram://987654321:AAHanotherTOKENanotherTOKEN12/111")
    assert other_bot[0][0] not in dict(keys) and other_bot[-1][0] != keys[-1][0]


def test_the_same_webhook_written_two_ways_shares_one_bucket():
    native = destination_keys("https://discord.com/api/webhooks/{}/{}".format(*DISCORD))
    assert native == destination_keys("discord://{}/{}".format(*DISCORD))


@pytest.mark.parametrize(
    "url",
    [
        f"tgram://{BOT}/12345",
        "slack://{}/{}/{}/#general".format(*SLACK),
        "discord://{}/{}".format(*DISCORD),
        "mailto://user:secretpass@gmail.com",
        "json://user:secretpass@hooks.example.com/x",
        "pover://userkey@apptoken",
    ],
)
def test_keys_never_show_a_token_in_clear(url):
    secrets = [BOT, *BOT.split(":"), *SLACK, *DISCORD, "secretpass", "userkey", "apptoken", "12345"]
    for key, _ in destination_keys(url):
        assert not [s for s in secrets if s in key], key


@pytest.mark.parametrize(
    "text, rate",
    [
        ("2/s", Rate(2.0, 2)),
        ("30/min", Rate(0.5, 30)),
        ("1/5s", Rate(0.2, 1)),
        ("100/h", Rate(100 / 3600, 100)),
        ("5/2s", Rate(2.5, 5)),
        (" 3 / 2 minutes ", Rate(3 / 120, 3)),
    ],
)
def test_rates_are_written_like_2_per_s_30_per_min_or_1_per_5s(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["", "fast", "2", "0/s", "-1/s", "1/0s", "2/fortnight", "nan/s", "inf/s"])
def test_a_rate_that_cannot_be_read_is_refused(text):
    with pytest.raises(ValueError, match="not a rate"):
        parse_rate(text)


def test_a_rate_override_is_taken_out_of_the_url_and_applies_to_its_bucket():
    url = "json://hooks.example.com/x?method=POST&rate=2%2Fs&+X-Token=abc"
    assert split_rate_override(url) == ("json://hooks.example.com/x?method=POST&+X-Token=abc", Rate(2.0, 2))
    assert split_rate_override("json://hooks.example.com/x?rate=1/5s") == (
        "json://hooks.example.com/x",
        Rate(0.2, 1),
    )
    assert split_rate_override("json://hooks.example.com/x") == ("json://hooks.example.com/x", None)
    assert destination_keys(url) == [("rl:webhook:host:hooks.example.com", Rate(2.0, 2))]
    keys = destination_keys(f"tgram://{BOT}/12345?rate=1/5s")
    assert keys[0][1] == Rate(0.2, 1) and keys[-1][1] == Rate(30.0, 30)


# A worker stand-in: waits for the start signal, takes as fast as it can for a while, reports.
HAMMER = """
import json, sys, time
import redis
from notifier.alerts.pacing import Rate, take
url, key, per_second, burst, seconds = sys.argv[1:]
r = redis.Redis.from_url(url)
rate = Rate(float(per_second), int(burst))
r.rpush("hammer:ready", key)
r.blpop(["hammer:go"], timeout=60)
granted = refused = 0
stop = time.monotonic() + float(seconds)
while time.monotonic() < stop:
    if take(r, key, rate) == 0.0:
        granted += 1
    else:
        refused += 1
r.rpush("hammer:done", json.dumps({"key": key, "granted": granted, "refused": refused}))
"""


def server_time(r) -> float:
    seconds, micros = r.time()
    return seconds + micros / 1_000_000


def test_two_processes_together_never_exceed_one_destinations_limit(r, redis_url):
    rate, seconds = Rate(per_second=20.0, burst=5), 3.0
    keys = ["rl:test:shared", "rl:test:shared", "rl:test:alone"]
    args = [str(rate.per_second), str(rate.burst), str(seconds)]
    procs = [
        subprocess.Popen([sys.executable, "-c", HAMMER, redis_url, key, *args], cwd=ROOT) for key in keys
    ]
    try:
        for _ in procs:
            assert r.blpop(["hammer:ready"], timeout=60), "a hammer process did not start"
        started = server_time(r)  # every bucket is full here and nobody has taken yet
        r.rpush("hammer:go", *["go"] * len(procs))
        reports = [json.loads(r.blpop(["hammer:done"], timeout=60)[1]) for _ in procs]
        ended = server_time(r)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
    shared = [rep for rep in reports if rep["key"] == "rl:test:shared"]
    alone = next(rep for rep in reports if rep["key"] == "rl:test:alone")
    together = sum(rep["granted"] for rep in shared)
    assert together <= rate.burst + rate.per_second * (ended - started)
    assert all(rep["refused"] > rep["granted"] for rep in reports), "demand never exceeded the limit"
    assert together >= rate.per_second * seconds / 2, "the limit was not used"
    assert all(rep["granted"] < alone["granted"] for rep in shared), (shared, alone)
