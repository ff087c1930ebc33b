"""Shared fixtures: a real Redis database per test, settings from the environment."""

from __future__ import annotations

import os

import pytest
import redis as redis_lib

from notifier.settings import get_settings

TEST_REDIS = os.environ.get("NOTIFIER_TEST_REDIS", "redis://127.0.0.1:6379")
TEST_DB = int(os.environ.get("NOTIFIER_TEST_DB", "9"))  # the machine's Redis is shared: keep to one db


@pytest.fixture
def redis_url() -> str:
    url = f"{TEST_REDIS}/{TEST_DB}"
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
