"""How `topic add --urgent-sources`, `story show`, `story list --json`, `deliveries` and the API
explain an event's delivery: what was urgent and why, which topic held a story back below its
`--min-sources` (with the outlets counted now), and which alert each update follows and how its
channel showed it. Real Redis, real SMTP and HTTP sinks, the installed `notifier` script."""

from __future__ import annotations

import json

import pytest

from notifier.alerts import ledger
from notifier.models import Subscriber, Topic
from notifier.stories import store
from tests.api_client import OPERATOR
from tests.sinks import HttpSink, SmtpSink
from tests.test_cli import refused, run_cli
from tests.test_same_event import GENEVA, GENEVA_UPDATE, Outlets, run_ticks


@pytest.fixture
def sinks():
    with HttpSink() as hooks, SmtpSink() as smtp:
        yield hooks, smtp


def test_a_topic_takes_urgent_sources_shows_it_and_refuses_one_outlet(r, redis_url, tmp_path):
    def cli(*args):
        return run_cli(redis_url, tmp_path, *args)

    done = cli("topic", "add", "quakes", "--match", "earthquake", "--urgent-sources", "3")
    assert done.returncode == 0 and "(urgent from 3 outlets within 10 min)" in done.stdout, done
    [topic] = json.loads(cli("topic", "list", "--json").stdout)
    assert topic["urgent_sources"] == 3 and store.list_topics(r)[0].urgent_sources == 3
    before = r.hgetall("topics")
    refused(cli("topic", "add", "x", "--match", "x", "--urgent-sources", "1"), "--urgent-sources")
    refused(cli("topic", "add", "x", "--match", "x", "--urgent-sources", "-2"), "--urgent-sources")
    assert r.hgetall("topics") == before


def test_story_show_and_list_explain_urgency_what_is_held_back_and_which_alert_an_update_follows(
    env, r, sinks, redis_url, tmp_path
):
    hooks, smtp = sinks
    store.add_topic(r, Topic("confirmed", "Iran", min_sources=3))
    store.add_topic(r, Topic("mideast", "Iran OR Geneva", urgent_sources=2))
    store.add_subscriber(
        r, Subscriber("bea", (hooks.url("/bea"), smtp.url("bea@example.com")), ("mideast",), updates=True)
    )
    outlets = Outlets(r)
    outlets.start("aljazeera", "reuters")
    [first] = outlets.publish("aljazeera", GENEVA)
    run_ticks(r)
    [update] = outlets.publish("reuters", GENEVA_UPDATE)
    run_ticks(r)
    shown = json.loads(run_cli(redis_url, tmp_path, "story", "show", update, "--json").stdout)
    assert shown["urgent"] == {"mideast": "urgent (2 outlets within 10 min)"}
    assert shown["held_back"] == {"confirmed": "needs 3 outlets, has 2"} and shown["outlets"] == 2
    firsts = {d.target.split(":")[0]: d.id for d in ledger.of_story(r, first)}
    threads = {d["target"].split(":")[0]: (d["update_of"], d["thread"]) for d in shown["deliveries"]}
    assert threads["mailto"][0] == firsts["mailto"] and "In-Reply-To" in threads["mailto"][1]
    assert threads["json"][0] == firsts["json"] and "update_of" in threads["json"][1]
    listed = {s["id"]: s for s in json.loads(run_cli(redis_url, tmp_path, "story", "list", "--json").stdout)}
    assert (
        listed[first]["held_back"] == {"confirmed": "needs 3 outlets, has 2"}
        and listed[first]["outlets"] == 2
    )
    assert set(listed[update]["updates"].values()) == set(firsts.values())
    text = run_cli(redis_url, tmp_path, "story", "show", update).stdout
    assert f"update of delivery {firsts['mailto']}" in text and "held back by confirmed" in text
    ledger_rows = json.loads(run_cli(redis_url, tmp_path, "deliveries", "--json", "--story", update).stdout)
    assert {row["update_of"] for row in ledger_rows} == set(firsts.values())


def test_the_api_takes_min_sources_and_urgent_sources_and_refuses_one_urgent_outlet(client):
    body = {"name": "quakes", "match": "earthquake", "min_sources": 2, "urgent_sources": 3}
    made = client.post("/api/topics", json=body, headers=OPERATOR)
    assert made.status_code == 201 and made.json()["urgent_sources"] == 3 and made.json()["min_sources"] == 2
    bad = client.put("/api/topics/quakes", json={"match": "quake", "urgent_sources": 1}, headers=OPERATOR)
    assert bad.status_code == 422 and "--urgent-sources" in bad.json()["error"]
    assert client.get("/api/topics", headers=OPERATOR).json() == [made.json()]
