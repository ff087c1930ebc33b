"""The receivers other tests rely on behave like the servers they stand for, and quietly."""

from __future__ import annotations

import logging
import smtplib

import pytest

from tests.sinks import SmtpSink


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_the_smtp_sink_takes_a_login_and_a_message_without_a_deprecation_warning(caplog, mechanism):
    caplog.set_level(logging.DEBUG, logger="mail.log")
    with SmtpSink() as sink, smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as client:
        client.ehlo()
        client.user, client.password = "reader", "secretpass"
        code, _ = client.auth(mechanism, getattr(client, f"auth_{mechanism.lower()}"))
        client.sendmail("alerts@example.com", ["reader@example.com"], b"Subject: hi\r\n\r\nbody\r\n")
    assert code == 235 and sink.logins == ["reader"] and len(sink.messages) == 1
    said = [r.getMessage() for r in caplog.records if r.name == "mail.log"]
    assert said and not [line for line in said if "deprecated" in line]  # aiosmtpd did speak
