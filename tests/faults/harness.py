"""What the fault cases share: the running service, a receiver that never gets the first request,
a Redis of our own to kill or misconfigure, and the lost/duplicated counts each case prints."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from tests.feeds import Item, rss
from tests.service import Service, wait_until
from tests.service import service_env as common_env
from tests.sinks import HttpSink, free_port

BASELINE = [Item("Markets open flat on a quiet Monday", "https://news.example.com/flat", guid="base-1")]


def report(case: str, lost: int, duplicated: int) -> None:
    """The line docs/reliability.md quotes; pytest -s shows it."""
    print(f"\nFAULT {case}: lost={lost} duplicated={duplicated}")


def service_env(tmp_path: Path, redis_url: str, **extra: str) -> dict[str, str]:
    """tests.service's environment with short leases and retries, so a lost send comes back within
    the seconds a fault case waits; `extra` adds or overrides."""
    short = {
        "NOTIFIER_LEASE_SECONDS": "5",
        "NOTIFIER_VISIBILITY_TIMEOUT": "6",
        "NOTIFIER_RETRY_BASE_DELAY": "0.2",
    }
    return common_env(tmp_path, redis_url, **(short | extra))


def add_feed(service: Service, feeds, path: str = "/news.xml", interval: str = "1") -> str:
    feeds.set(path, rss(BASELINE))
    feed_id = service.cli("feed", "add", feeds.url(path), "--interval", interval).stdout.strip()
    return feed_id


def baseline_done(service: Service, feed_id: str) -> bool:
    return any(f["id"] == feed_id and f["last_success"] for f in service.cli_json("feed", "list"))


def deliveries(service: Service) -> list[dict]:
    return service.cli_json("deliveries")


def settled(service: Service, count: int):
    """The ledger rows once `count` of them exist and all are final, else None."""
    rows = deliveries(service)
    final = len(rows) >= count and all(d["state"] in ("sent", "failed", "dropped") for d in rows)
    return rows if final else None


class HangFirstSink(HttpSink):
    """TESTING.md's receiver that never got the alert, for the first `hang` requests: it reads the
    request line and headers, never the body, and holds the socket until the test ends. Nothing
    arrived, and the sender cannot tell. Later requests are recorded and answered 200."""

    def __init__(self, hang: int = 1):
        super().__init__()
        self.hung: list[dict] = []
        self.release = threading.Event()
        sink, plain = self, self.server.RequestHandlerClass.do_POST

        def do_post(handler):
            if len(sink.hung) < hang:
                sink.hung.append({"at": time.time(), "headers": dict(handler.headers)})
                sink.release.wait(120)
                handler.close_connection = True
                return
            plain(handler)

        self.server.RequestHandlerClass.do_POST = do_post

    def __exit__(self, *exc) -> None:
        self.release.set()
        super().__exit__(*exc)


@contextmanager
def own_redis(tmp_path: Path, *config: str):
    """A redis-server of this test's own on a free port, append-only, that it may kill and restart."""
    server = shutil.which("redis-server")
    port, workdir = free_port(), tmp_path / "redis"
    workdir.mkdir(exist_ok=True)
    argv = [server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir), "--save", ""]
    argv += ["--appendonly", "yes", "--appendfsync", "always", *config]
    box = {"proc": subprocess.Popen(argv, stdout=subprocess.DEVNULL)}

    def restart(down_for: float = 0.0, while_down=lambda: None) -> None:
        box["proc"].kill()
        box["proc"].wait()
        while_down()
        time.sleep(down_for)
        box["proc"] = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
        wait_ready(port)

    wait_ready(port)
    try:
        yield f"redis://127.0.0.1:{port}/0", restart
    finally:
        box["proc"].kill()
        box["proc"].wait()


def wait_ready(port: int) -> None:
    import redis

    client = redis.Redis(port=port)
    assert wait_until(lambda: _pings(client), timeout=10), f"redis-server on {port} did not start"


def _pings(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:  # noqa: BLE001 - not up yet
        return False
