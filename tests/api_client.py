"""The real FastAPI app on the test Redis, for the API and page tests."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from notifier.api import app

TOKEN = "operator-token-for-tests"
OPERATOR = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(env, monkeypatch):
    monkeypatch.setenv("NOTIFIER_ADMIN_TOKEN", TOKEN)
    with TestClient(app) as test_client:
        yield test_client


def csrf_of(page_html: str) -> str:
    """The CSRF token a page put in its forms."""
    return re.search(r'name="csrf" value="([0-9a-f]{32})"', page_html).group(1)
