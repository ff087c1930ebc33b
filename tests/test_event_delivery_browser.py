"""In headless Chromium, the page's own service worker: the Web Push alert of an event and then
its update (rendered as the renderer makes them, tagged with the event) are handed to the worker
over the DevTools protocol. The update replaces the first notification on the device, keeps the
event's tag and asks to ring again; an alert of another event stands beside them."""

from __future__ import annotations

import json

from notifier.alerts.render import render_for
from notifier.settings import get_settings
from tests.browser import FAKE_PUSH_SERVICE
from tests.pushing import Browser
from tests.test_browser import chromium, site  # noqa: F401 - fixtures

SHOWN = """navigator.serviceWorker.ready.then(r => r.getNotifications()).then(ns =>
    ns.map(n => ({title: n.title, tag: n.tag, renotify: n.renotify})))"""


def deliver(cdp, origin: str, registration: str, data: str) -> None:
    cdp.send(
        "ServiceWorker.deliverPushMessage", {"origin": origin, "registrationId": registration, "data": data}
    )


def shown_when(page, predicate) -> list[dict]:
    for _ in range(100):
        notifications = page.evaluate(SHOWN)
        if predicate(notifications):
            return notifications
        page.wait_for_timeout(50)
    raise AssertionError(f"the service worker showed {page.evaluate(SHOWN)}")


def test_an_update_replaces_its_events_first_notification_and_rings_again(site, chromium):  # noqa: F811
    endpoint = "http://127.0.0.1:9/push/reader-1"
    context = chromium.new_context()
    context.grant_permissions(["notifications"], origin=site.base)
    keys = Browser.new().subscription(endpoint)["keys"]
    context.add_init_script(FAKE_PUSH_SERVICE % {"endpoint": json.dumps(endpoint), "keys": json.dumps(keys)})
    page = context.new_page()
    page.goto(site.base + "/")
    page.locator("label.topic", has_text="storms").click()
    page.get_by_role("button", name="Get notifications").click()
    page.get_by_text("You're subscribed").wait_for(timeout=10_000)
    cdp = context.new_cdp_session(page)
    registrations: list[dict] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: registrations.extend(e["registrations"]))
    cdp.send("ServiceWorker.enable")
    for _ in range(100):
        if any(not reg.get("isDeleted") for reg in registrations):
            break
        page.wait_for_timeout(50)
    [registration] = [reg["registrationId"] for reg in registrations if not reg.get("isDeleted")][:1]

    url = "webpush://127.0.0.1:9/push/reader-1?p256dh=k&auth=a"
    first = {"id": "s1", "title": "Storm floods the coast road", "link": None, "summary": "", "event": "s1"}
    update = first | {"id": "s2", "title": "Coast road closed for a week", "update_of": "d1"}
    other = {"id": "s9", "title": "Markets rally", "link": None, "summary": "", "event": "s9"}
    for story in (first, other):
        deliver(cdp, site.base, registration, render_for(url, story, [], get_settings()).body)
    shown_when(page, lambda ns: len(ns) == 2)
    deliver(
        cdp,
        site.base,
        registration,
        render_for(url, update | {"first_title": first["title"]}, [], get_settings()).body,
    )
    shown = shown_when(page, lambda ns: any(n["title"].startswith("Update:") for n in ns))
    assert sorted((n["tag"], n["title"], n["renotify"]) for n in shown) == [
        ("s1", "Update: Storm floods the coast road — Coast road closed for a week", True),
        ("s9", "Markets rally", False),
    ]
    context.close()
