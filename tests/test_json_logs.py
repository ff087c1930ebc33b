"""NOTIFIER_LOG_FORMAT=json: one JSON object per line, with the task and a request id; the redaction
filter applies to it as to text lines, tracebacks included."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from notifier.core import logs
from notifier.stories import store
from tests.operating import ready
from tests.service import Service, service_env, wait_until
from tests.sinks import free_port

TOKEN = "hookTokenSECRET42"
SECRET_URL = f"json://127.0.0.1:9/hook?token={TOKEN}"


@pytest.fixture
def root_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def log_a_failure(log: logging.Logger) -> None:
    target = SECRET_URL
    try:
        raise ConnectionError(f"cannot reach {target}")
    except ConnectionError:
        log.exception("send to %s failed", target)


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_a_traceback_is_redacted_in_either_format(capsys, root_logging, fmt):
    logs.setup("INFO", fmt)
    log_a_failure(logging.getLogger("notifier.test"))
    err = capsys.readouterr().err
    assert TOKEN not in err and "json://127.0.0.1" in err and "Traceback" in err
    if fmt == "json":
        [line] = err.splitlines()
        entry = json.loads(line)
        assert entry["level"] == "ERROR" and entry["logger"] == "notifier.test"
        assert entry["message"] == "send to json://127.0.0.1 failed"
        assert entry["exc"].startswith("Traceback") and "ConnectionError: cannot reach" in entry["exc"]


def test_a_line_logged_inside_a_task_names_the_task_and_its_id(capsys, root_logging):
    logs.setup("INFO", "json")
    logs.TASK.set("workers.tasks.poll")
    logs.REQUEST_ID.set("5f0c")
    try:
        logging.getLogger("notifier.pipeline").warning("feed %s: timeout", "abc")
    finally:
        logs.TASK.set(None)
        logs.REQUEST_ID.set(None)
    entry = json.loads(capsys.readouterr().err)
    assert entry["task"] == "workers.tasks.poll" and entry["request_id"] == "5f0c"


@pytest.mark.e2e
def test_every_line_the_processes_write_is_a_json_object(tmp_path, redis_url, r):
    port = free_port()
    env = service_env(tmp_path, redis_url, NOTIFIER_API_PORT=str(port), NOTIFIER_LOG_FORMAT="json")
    with Service(env, tmp_path) as service:
        closed = store.add_feed(r, "http://127.0.0.1:9/closed.xml", "closed", 1, forced=True)  # a warning
        service.start("worker", "worker", "--queues", "tick,poll,deliver", "--pool", "prefork", "--name", "w")
        service.start("beat", "beat")
        service.start("api", "api")
        assert wait_until(lambda: ready(port), timeout=60), service.logs()
        answer = httpx.get(f"http://127.0.0.1:{port}/healthz", headers={"X-Request-ID": "probe-1"})
        assert answer.headers["x-request-id"] == "probe-1"
        assert wait_until(lambda: closed.id in (tmp_path / "worker.log").read_text(), timeout=30)
        wait_until(lambda: "probe-1" in (tmp_path / "api.log").read_text(), timeout=10)
    entries = {}
    for name in ("worker", "beat", "api"):
        lines = (tmp_path / f"{name}.log").read_text().splitlines()
        entries[name] = [json.loads(line) for line in lines]  # fails on any line that is not JSON
    failed = [e for e in entries["worker"] if closed.id in e["message"]]
    assert failed[0]["task"] == "workers.tasks.poll" and failed[0]["request_id"]
    assert any(e.get("request_id") == "probe-1" and "/healthz" in e["message"] for e in entries["api"])
    assert sum("token" in e for name in entries for e in entries[name]) == 1  # printed once
