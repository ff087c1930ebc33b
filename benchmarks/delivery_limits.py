"""The limits of the delivery benchmark, into the same sinks the service sends to, every try kept:
aiohttp and httpx POSTs at c=50 with keep-alive (aiohttp also in as many processes as the deliver
worker has), `requests.post` with a new connection each (as Apprise sends), Apprise `json://`;
smtplib with a new connection each, over one reused connection, and over as many reused
connections at once as the service opens to one mail server; Apprise `mailto://`."""

from __future__ import annotations

import asyncio
import email.policy
import json
import smtplib
import time
from dataclasses import dataclass
from email.message import EmailMessage

import aiohttp
import apprise
import httpx
import requests

from benchmarks.delivery_sinks import Sinks
from benchmarks.stack import side_by_side

CLIENTS = 50
STORY = {  # what a json:// alert carries: a story as the service renders it, ~0.7 KB
    "id": "b1e2c3d4e5f60718",
    "feed": "f0a1b2c3d4",
    "title": "Breaking: parliament approves emergency budget after all-night talks",
    "link": "https://news.example.com/world/2025/06/02/parliament-budget-approved",
    "summary": "Lawmakers voted 312 to 290 in the early hours after the coalition agreed to cut "
    "spending on defence and raise the tax on energy profits. " * 3,
    "published": "2025-06-02T09:30:00Z",
    "topics": ["politics"],
}


@dataclass(frozen=True)
class Size:
    subscribers: int  # webhook alerts per unlimited service run
    emails: int  # e-mail alerts per unlimited service run
    paced: tuple[int, int]  # webhook and e-mail alerts per paced run: enough to pass the burst
    repeats: int  # unlimited service runs of each kind, each a run of the record
    tries: int  # of each limit
    slice: float  # seconds per limit try
    fanout: int  # subscribers of the in-process fan-out


def limits(sinks: Sinks, size: Size, processes: int) -> dict[str, list[float]]:
    body, message = json.dumps(STORY).encode(), _email()
    raw = message.as_bytes(policy=email.policy.SMTP)  # CRLF lines, as send_message would send
    urls = [sinks.hook(i, scheme="http") for i in range(CLIENTS)]
    seconds, port = size.slice, sinks.smtp_port

    def post(i: int) -> None:
        requests.post(urls[i % CLIENTS], data=body, timeout=5).raise_for_status()

    variants = {  # name: (sink counter, work)
        "aiohttp": ("http", lambda: aiohttp_posts(urls, body, seconds)),
        "aiohttp_as_service": ("http", lambda: side_by_side(processes, aiohttp_posts, urls, body, seconds)),
        "httpx": ("http", lambda: asyncio.run(_httpx_posts(urls, body, seconds))),
        "requests_new_connection": ("http", lambda: repeated(post, seconds)),
        "apprise_json": ("http", lambda: repeated(lambda i: _apprise(sinks.hook(i), body.decode()), seconds)),
        "smtplib_new_connection": ("smtp", lambda: repeated(lambda i: _smtp_once(port, message), seconds)),
        "smtplib_reused": ("smtp", lambda: smtp_reused(port, raw, seconds)),
        "smtplib_as_service": ("smtp", lambda: side_by_side(processes, smtp_reused, port, raw, seconds)),
        "apprise_mailto": ("smtp", lambda: repeated(lambda i: _apprise(sinks.mailto(i), message), seconds)),
    }
    _apprise(sinks.hook(0), body.decode())  # Apprise loads its plugins once: not part of a send
    _apprise(sinks.mailto(0), message)
    runs: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(size.tries):
        for name, (kind, work) in variants.items():
            runs[name].append(measured(sinks, kind, work))
    return runs


def measured(sinks: Sinks, kind: str, work) -> float:
    """Messages a second; every one must have reached the sink (a client may return an error
    instead of raising, which would flatter the rate)."""
    before = sinks.stats()[kind]
    wall = time.perf_counter()
    done = work()
    wall = time.perf_counter() - wall
    done, rate = done if isinstance(done, tuple) else (done, done / wall)  # side_by_side: its own rate
    accepted = sinks.stats()[kind] - before
    if accepted != done:
        raise RuntimeError(f"{done} {kind} messages sent, {accepted} accepted")
    return rate


def repeated(send_one, seconds: float) -> int:
    done, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        send_one(done)
        done += 1
    return done


def aiohttp_posts(urls: list[str], body: bytes, seconds: float) -> int:
    return asyncio.run(_aiohttp_posts(urls, body, seconds))


async def _aiohttp_posts(urls: list[str], body: bytes, seconds: float) -> int:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CLIENTS)) as session:

        async def post(url: str) -> None:
            async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
                await response.read()
                response.raise_for_status()

        return await _lanes(urls, post, seconds)


async def _httpx_posts(urls: list[str], body: bytes, seconds: float) -> int:
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(limits=limits) as client:

        async def post(url: str) -> None:
            response = await client.post(url, content=body, headers={"Content-Type": "application/json"})
            response.raise_for_status()

        return await _lanes(urls, post, seconds)


async def _lanes(urls: list[str], post, seconds: float) -> int:
    deadline = time.monotonic() + seconds

    async def lane(url: str) -> int:
        done = 0
        while time.monotonic() < deadline:
            await post(url)
            done += 1
        return done

    return sum(await asyncio.gather(*(lane(url) for url in urls)))


def _apprise(url: str, content: str | EmailMessage) -> None:
    """One message through a new Apprise object, as a sender that keeps nothing would."""
    sender = apprise.Apprise()
    sender.add(url)
    if isinstance(content, EmailMessage):
        sent = sender.notify(title=content["Subject"], body=content.get_content(), body_format="html")
    else:
        sent = sender.notify(title=STORY["title"], body=content)
    if not sent:
        raise RuntimeError(f"Apprise did not send to {url}")


def _email() -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.com", "reader@example.com", STORY["title"]
    message.set_content(
        f"<html><body><h1>{STORY['title']}</h1><p>{STORY['summary'] * 3}</p>"
        f'<p><a href="{STORY["link"]}">Read more</a></p></body></html>',
        subtype="html",
    )
    return message


def _smtp_once(port: int, message: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
        smtp.login("user", "pass")
        smtp.send_message(message)


def smtp_reused(port: int, message: bytes, seconds: float) -> int:
    """smtplib over one connection, logged in once."""
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
        smtp.login("user", "pass")
        return repeated(lambda i: smtp.sendmail("a@example.com", ["reader@example.com"], message), seconds)
