"""The page and the operator API as the service serves them: `notifier api` on its own (what
the compose stack runs) prints a new operator token once, answers the page at `/`, and lets the
operator API in only with that token. `notifier run` starts the same `notifier api`."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.service import Service, wait_until
from tests.sinks import free_port

pytestmark = pytest.mark.e2e


def answers(url: str):
    try:
        return httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return None


def test_notifier_api_serves_the_page_and_guards_the_operator_api(tmp_path, redis_url):
    port = free_port()
    env = {
        "REDIS_URL": redis_url,
        "NOTIFIER_DATA_DIR": str(tmp_path / "data"),
        "NOTIFIER_API_PORT": str(port),
    }
    base = f"http://127.0.0.1:{port}"
    with Service(env, tmp_path) as service:
        service.env.pop("NOTIFIER_ADMIN_TOKEN", None)
        service.start("api", "api")
        page = wait_until(lambda: answers(base + "/"), timeout=30)
        assert page is not None and page.status_code == 200, service.logs()
        assert (
            "Never miss breaking news" in page.text
            and "script-src 'self'" in page.headers["content-security-policy"]
        )
        [token] = re.findall(r"admin token \(shown once[^)]*\): (\S+)", service.logs())
        assert httpx.get(base + "/api/status").status_code == 401
        assert httpx.get(base + "/api/status", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert (
            httpx.get(base + "/api/status", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        )
        assert httpx.get(base + "/docs").status_code == 200
        assert httpx.get(base + "/sw.js").headers["content-type"].startswith("text/javascript")
