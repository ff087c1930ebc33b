"""The operator API against a real Redis: the token gates it, errors are JSON, and it does what
the CLI does through the same domain functions (a refusal changes nothing stored)."""

from __future__ import annotations

import pytest

from notifier.alerts import ledger
from notifier.models import Story, url_hash
from notifier.stories import claim, store
from tests.api_client import OPERATOR, TOKEN
from tests.test_cli_commands import everything

HOOK = "json://127.0.0.1:9/hook"
OPERATOR_CALLS = [
    ("get", "/api/feeds"),
    ("post", "/api/feeds"),
    ("delete", "/api/feeds/abc"),
    ("get", "/api/topics"),
    ("put", "/api/topics/x"),
    ("get", "/api/subscribers"),
    ("patch", "/api/subscribers/x"),
    ("get", "/api/stories"),
    ("get", "/api/deliveries"),
    ("post", "/api/deliveries/x/retry"),
    ("get", "/api/status"),
    ("get", "/api/opml"),
]


@pytest.mark.parametrize(("method", "path"), OPERATOR_CALLS)
def test_every_operator_endpoint_needs_the_token(client, method, path):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        answer = client.request(method, path, headers=headers, json={})
        assert answer.status_code == 401, (method, path, headers)
        assert answer.json()["error"].startswith("this needs the operator token")
        assert answer.headers["WWW-Authenticate"] == "Bearer"


def test_without_a_configured_token_the_one_made_at_first_start_is_the_key(client, monkeypatch, env, r):
    from notifier.core import admin
    from notifier.settings import get_settings

    monkeypatch.delenv("NOTIFIER_ADMIN_TOKEN")
    get_settings.cache_clear()
    assert client.get("/api/feeds", headers={"Authorization": "Bearer guess"}).status_code == 401
    made = admin.ensure(r, get_settings())  # what the first process to start does (and prints)
    assert made and len(made) >= 40 and admin.ensure(r, get_settings()) is None
    assert client.get("/api/feeds", headers={"Authorization": "Bearer guess"}).status_code == 401
    assert client.get("/api/feeds", headers={"Authorization": f"Bearer {made}"}).status_code == 200


def test_docs_and_the_openapi_schema_answer(client):
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert "/api/feeds" in schema["paths"] and "/api/me/{token}" in schema["paths"]
    assert "operator token" in schema["components"]["securitySchemes"]


def test_feeds_add_list_disable_enable_remove(client, r):
    added = client.post(
        "/api/feeds", json={"url": "http://127.0.0.1:9/f.xml", "interval": 5}, headers=OPERATOR
    )
    assert added.status_code == 201
    feed = added.json()
    again = client.post("/api/feeds", json={"url": "http://127.0.0.1:9/f.xml"}, headers=OPERATOR)
    assert again.status_code == 200 and again.json()["id"] == feed["id"]
    assert [f["id"] for f in client.get("/api/feeds", headers=OPERATOR).json()] == [feed["id"]]
    assert client.post(f"/api/feeds/{feed['id']}/disable", headers=OPERATOR).json()["enabled"] is False
    assert r.zscore("feeds:due", feed["id"]) is None
    assert client.post(f"/api/feeds/{feed['id']}/enable", headers=OPERATOR).json()["enabled"] is True
    assert client.delete(f"/api/feeds/{feed['id']}", headers=OPERATOR).status_code == 204
    assert client.get(f"/api/feeds/{feed['id']}", headers=OPERATOR).status_code == 404


def test_topics_conflicts_and_followed_topics_are_409(client, r):
    body = {"name": "storms", "match": "storm OR flood"}
    assert client.post("/api/topics", json=body, headers=OPERATOR).status_code == 201
    clash = client.post("/api/topics", json=body, headers=OPERATOR)
    assert clash.status_code == 409 and "exists already" in clash.json()["error"]
    changed = client.put("/api/topics/storms", json={"match": "storm", "urgent": True}, headers=OPERATOR)
    assert changed.json() == {"name": "storms", "match": "storm", "urgent": True} | {
        "min_sources": 1,
        "urgent_sources": 0,
    }
    client.post(
        "/api/subscribers", json={"name": "ann", "notify": [HOOK], "topics": ["storms"]}, headers=OPERATOR
    )
    followed = client.delete("/api/topics/storms", headers=OPERATOR)
    assert followed.status_code == 409 and "followed by ann" in followed.json()["error"]
    bad = client.post("/api/topics", json={"name": "x", "match": "a AND ("}, headers=OPERATOR)
    assert bad.status_code == 422 and "invalid expression" in bad.json()["error"]


def test_subscribers_are_checked_and_a_refusal_changes_nothing(client, r):
    client.post("/api/topics", json={"name": "storms", "match": "storm"}, headers=OPERATOR)
    new = {"name": "ann", "notify": [HOOK + "?token=secret"], "topics": ["storms"], "quiet": "22:00-07:00"}
    made = client.post("/api/subscribers", json=new, headers=OPERATOR)
    assert made.status_code == 201 and made.json()["notify"] == ["json://127.0.0.1"]
    before = everything(r)
    refusals = [
        ("post", "/api/subscribers", new, 409, "exists already"),
        ("post", "/api/subscribers", {**new, "name": "bob", "topics": ["nope"]}, 422, "unknown topic"),
        ("post", "/api/subscribers", {**new, "name": "bob", "notify": ["nonsense://x"]}, 422, "Apprise"),
        (
            "post",
            "/api/subscribers",
            {**new, "name": "bob", "notify": [HOOK + "?rate=fast"]},
            422,
            "not a rate",
        ),
        ("post", "/api/subscribers", {**new, "name": "bob", "tz": "Mars/Olympus"}, 422, "Mars"),
        ("patch", "/api/subscribers/ann", {}, 422, "nothing to change"),
        ("patch", "/api/subscribers/ann", {"remove_topics": ["storms"]}, 422, "no topic"),
        ("patch", "/api/subscribers/nobody", {"add_topics": ["storms"]}, 404, "no subscriber"),
        ("post", "/api/subscribers", {"name": "bob"}, 422, "notify"),
    ]
    for method, path, body, status, words in refusals:
        answer = client.request(method, path, json=body, headers=OPERATOR)
        assert answer.status_code == status and words in answer.json()["error"], (body, answer.json())
    assert everything(r) == before
    changed = client.patch(
        "/api/subscribers/ann", json={"add_notify": ["json://127.0.0.1:9/b"]}, headers=OPERATOR
    )
    assert len(changed.json()["notify"]) == 2
    assert client.delete("/api/subscribers/ann", headers=OPERATOR).status_code == 204
    assert store.list_subscribers(r) == []


def test_guarded_addresses_are_refused_without_private_hosts(client, monkeypatch):
    from notifier.settings import get_settings

    monkeypatch.setenv("NOTIFIER_ALLOW_PRIVATE_HOSTS", "false")
    get_settings.cache_clear()
    answer = client.post("/api/feeds", json={"url": "http://169.254.169.254/latest"}, headers=OPERATOR)
    assert answer.status_code == 422 and "link-local" in answer.json()["error"]


def test_stories_deliveries_retry_and_status(client, r):
    story = Story("s1", "f1", "Storm hits the coast", "https://n.example/s1", None, "Wind.", "g1")
    claim.claim_stories(r, "f1", [story], story_ttl=3600, title_ttl=600, pending_at=0)
    [sent] = ledger.create(r, [("s1", "ann", url_hash(HOOK), "json://127.0.0.1")], ttl=3600, lease_until=0)
    [failed] = ledger.create(r, [("s1", "bob", url_hash(HOOK), "json://127.0.0.1")], ttl=3600, lease_until=0)
    ledger.sent_many(r, [sent])
    ledger.finish(r, failed, "failed", error="http 500")
    listed = client.get("/api/stories", headers=OPERATOR).json()
    assert [s["id"] for s in listed] == ["s1"] and listed[0]["cluster"] == "s1"
    detail = client.get("/api/stories/s1", headers=OPERATOR).json()
    assert {d["id"] for d in detail["deliveries"]} == {sent, failed}
    assert client.get("/api/stories/nope", headers=OPERATOR).status_code == 404
    only_failed = client.get("/api/deliveries", params={"failed": True}, headers=OPERATOR).json()
    assert [d["id"] for d in only_failed] == [failed]
    assert client.post(f"/api/deliveries/{sent}/retry", headers=OPERATOR).status_code == 422
    assert client.post(f"/api/deliveries/{failed}/retry", headers=OPERATOR).status_code == 202
    status = client.get("/api/status", headers=OPERATOR).json()
    assert set(status["queues"]) == {"tick", "poll", "deliver"} and status["deliveries"]
    assert client.get("/api/stories", params={"topic": "nope"}, headers=OPERATOR).status_code == 404


def test_opml_round_trip(client):
    client.post("/api/feeds", json={"url": "http://127.0.0.1:9/a.xml", "name": "A"}, headers=OPERATOR)
    exported = client.get("/api/opml", headers=OPERATOR)
    assert exported.headers["content-type"].startswith("text/x-opml") and b"a.xml" in exported.content
    document = exported.content.replace(b"a.xml", b"b.xml")
    imported = client.post("/api/opml", content=document, headers={**OPERATOR, "Content-Type": "text/x-opml"})
    assert imported.json() == {"imported": 1, "present": 0, "refused": []}
    broken = client.post("/api/opml", content=b"<opml", headers={**OPERATOR, "Content-Type": "text/x-opml"})
    assert broken.status_code == 422


def test_errors_are_json_with_one_line(client):
    answer = client.post(
        "/api/feeds", content=b"not json", headers={**OPERATOR, "Content-Type": "application/json"}
    )
    assert answer.status_code == 422 and answer.json()["error"] and answer.json()["detail"]
    assert client.get("/api/nothing-here").json() == {"error": "Not Found"}
