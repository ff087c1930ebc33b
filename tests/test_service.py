"""The service as an operator starts it: `notifier run`, refusals. The compose file's services are
run in tests/test_compose.py."""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest

from tests.feeds import corpus_file
from tests.service import Service, wait_until
from tests.sinks import free_port

pytestmark = pytest.mark.e2e


def ready(port: int):
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=3)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


def test_run_starts_an_embedded_redis_becomes_ready_and_stops_cleanly_on_sigterm(tmp_path):
    port = free_port()
    data = tmp_path / "data"
    env = {"NOTIFIER_DATA_DIR": str(data), "NOTIFIER_API_PORT": str(port)}
    with Service(env, tmp_path) as service:
        service.env.pop("REDIS_URL", None)
        proc = service.start("run", "run")
        readiness = wait_until(lambda: ready(port), timeout=60)
        assert readiness and readiness["checks"]["redis"]["ok"], service.logs()
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"ok": True}
        assert (data / "redis.url").exists()
        # made at first start, printed once, never written to the data dir
        assert (tmp_path / "run.log").read_text().count("admin token (shown once") == 1
        assert not (data / "admin_token").exists()

        # a CLI command in another terminal talks to the same embedded Redis
        assert service.cli("topic", "add", "quakes", "--match", "earthquake").returncode == 0

        started = time.monotonic()
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert time.monotonic() - started < 10.5
        assert not (data / "redis.url").exists()
        assert list(data.glob("appendonly*")), "the embedded Redis keeps an append-only file"
        service.procs.clear()

        # restarted later, what was stored is still there
        listed = service.cli_json("topic", "list")
        assert [t["name"] for t in listed] == ["quakes"]


def test_run_starts_a_child_again_when_it_dies(tmp_path):
    """A worker that exits (kombu #582 makes one exit when Redis drops) is restarted, not the end."""
    import psutil

    port = free_port()
    env = {"NOTIFIER_DATA_DIR": str(tmp_path / "data"), "NOTIFIER_API_PORT": str(port)}
    with Service(env, tmp_path) as service:
        service.env.pop("REDIS_URL", None)
        proc = service.start("run", "run")
        assert wait_until(lambda: ready(port), timeout=60), service.logs()

        def poll_worker():
            for child in psutil.Process(proc.pid).children():
                try:
                    argv = child.cmdline()
                except psutil.Error:  # the killed one, a zombie until the supervisor reaps it
                    continue
                if "--name" in argv and argv[argv.index("--name") + 1] == "poll":
                    return child
            return None

        first = poll_worker()
        first.kill()
        second = wait_until(lambda: (w := poll_worker()) and w.pid != first.pid and w, timeout=30)
        assert second, service.logs()
        assert proc.poll() is None, "notifier run keeps running"
        assert "worker-poll exited with -9; starting it again" in (tmp_path / "run.log").read_text()
        assert wait_until(lambda: ready(port), timeout=60), service.logs()
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        service.procs.clear()


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/",
        "file:///etc/passwd",
        "http://127.0.0.1:6379/",
        "http://2852039166/",
        "http://[::ffff:10.0.0.1]/",
        "gopher://example.com/",
    ],
)
def test_feed_add_refuses_internal_and_non_http_urls_with_one_line_and_exit_2(tmp_path, redis_url, url):
    env = {"REDIS_URL": redis_url, "NOTIFIER_DATA_DIR": str(tmp_path)}
    with Service(env, tmp_path) as service:
        service.env.pop("NOTIFIER_ALLOW_PRIVATE_HOSTS", None)
        done = service.cli("feed", "add", url, check=False)
        assert done.returncode == 2
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
        assert service.cli_json("feed", "list") == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["topic", "add", "bad", "--match", "(israel OR"], "position"),
        (["topic", "add", "bad", "--match", '"world cup'], "position"),
        (
            ["subscriber", "add", "x", "--notify", "mailto://a:b@example.com", "--topic", "nope"],
            "unknown topic",
        ),
        (["subscriber", "add", "x", "--notify", "notaurl", "--topic", "t"], "notification URL"),
        (["feed", "remove", "nosuchfeed"], "no feed"),
    ],
)
def test_bad_input_is_refused_with_one_line_and_exit_2_and_nothing_changes(
    tmp_path, redis_url, args, message
):
    env = {"REDIS_URL": redis_url, "NOTIFIER_DATA_DIR": str(tmp_path)}
    with Service(env, tmp_path) as service:
        service.cli("topic", "add", "t", "--match", "storm")
        done = service.cli(*args, check=False)
        assert done.returncode == 2, done.stderr
        assert message in done.stderr and "Traceback" not in done.stderr
        assert [t["name"] for t in service.cli_json("topic", "list")] == ["t"]
        assert service.cli_json("subscriber", "list") == []


def test_a_bad_setting_stops_the_start_with_one_line_naming_it(tmp_path):
    with Service(
        {"NOTIFIER_API_PORT": "not-a-port", "NOTIFIER_DATA_DIR": str(tmp_path)}, tmp_path
    ) as service:
        done = service.cli("feed", "list", check=False)
    assert done.returncode == 2 and "NOTIFIER_API_PORT" in done.stderr and "Traceback" not in done.stderr


def test_parse_prints_a_local_file_as_json_lines(tmp_path):
    corpus = corpus_file("feeds/bbc-world-2026.xml")
    with Service({"NOTIFIER_DATA_DIR": str(tmp_path)}, tmp_path) as service:
        lines = service.cli("parse", str(corpus)).stdout.splitlines()
    import json

    stories = [json.loads(line) for line in lines]
    assert len(stories) == 33
    assert all({"id", "title", "link", "published", "summary"} <= set(s) for s in stories)


def test_feed_enable_rearms_a_disabled_feed(tmp_path, redis_url):
    import redis as redis_lib

    from notifier.stories import store

    env = {"REDIS_URL": redis_url, "NOTIFIER_DATA_DIR": str(tmp_path), "NOTIFIER_ALLOW_PRIVATE_HOSTS": "true"}
    with Service(env, tmp_path) as service:
        feed_id = service.cli("feed", "add", "http://127.0.0.1:9/feed.xml").stdout.strip()
        r = redis_lib.Redis.from_url(redis_url, decode_responses=True)
        store.update_feed(r, feed_id, enabled=False, errors=12, interval_reason="disabled: 12 errors")
        r.zrem("feeds:due", feed_id)
        service.cli("feed", "enable", feed_id)
        [feed] = service.cli_json("feed", "list")
        assert feed["enabled"] and feed["errors"] == 0 and r.zscore("feeds:due", feed_id) is not None
        assert service.cli("feed", "enable", "nope", check=False).returncode == 2
