"""Schemathesis against our own OpenAPI schema: whatever it sends to any operation, with and
without the operator token, the API answers without a server error.

Generated URLs must not reach the outside world: for the length of each case, names resolve
only on loopback and sockets connect only to loopback (Redis is there), so a generated
`http://203.0.113.5/` is refused at the edge instead of being fetched or posted to.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from notifier.api import app
from notifier.models import Topic
from notifier.stories import store
from tests.api_client import OPERATOR, TOKEN

# health probes answer 503 on purpose while no worker runs: that is their job, not a crash
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
schema = schema.exclude(path_regex=r"^/(healthz|readyz|metrics)$")


@pytest.fixture
def loopback_only(monkeypatch):
    resolve, connect = socket.getaddrinfo, socket.socket.connect

    def local_names(host, *args, **kwargs):
        answers = resolve("127.0.0.1" if host == "localhost" else host, *args, **kwargs)
        if not all(ipaddress.ip_address(a[4][0]).is_loopback for a in answers):
            raise socket.gaierror(socket.EAI_NONAME, "the test resolves loopback only")
        return answers

    def local_connect(sock, address):
        if (
            sock.family in (socket.AF_INET, socket.AF_INET6)
            and not ipaddress.ip_address(address[0]).is_loopback
        ):
            raise ConnectionRefusedError("the test connects to loopback only")
        return connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", local_names)
    monkeypatch.setattr(socket.socket, "connect", local_connect)


@pytest.fixture
def seeded(env, r, monkeypatch, loopback_only):
    monkeypatch.setenv("NOTIFIER_ADMIN_TOKEN", TOKEN)
    store.add_topic(r, Topic("storms", "storm"))
    store.add_feed(r, "http://127.0.0.1:9/f.xml", "Local", 60)


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_operation_answers_with_a_server_error(case, seeded):
    case.call_and_validate(headers=OPERATOR, checks=[not_a_server_error])
    case.call_and_validate(checks=[not_a_server_error])
