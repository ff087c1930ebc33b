"""Notification URLs carry secrets: only scheme and host are ever shown."""

import logging

import pytest

from notifier.core.redact import RedactingFilter, redact, redact_text


@pytest.mark.parametrize(
    "url, shown",
    [
        ("mailto://user:secretpass@gmail.com?to=a@b.c", "mailto://gmail.com"),
        ("json://127.0.0.1:8080/hook?token=abc", "json://127.0.0.1"),
        ("tgram://123456789:AAHsecret/12345", "tgram://***"),
        ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ", "slack://***"),
        ("discord://1234567890/webhooktoken", "discord://***"),
        ("ntfy://ntfy.example.com/secret-topic", "ntfy://ntfy.example.com"),
        ("not a url", "://***"),
    ],
)
def test_it_shows_only_scheme_and_a_real_host(url, shown):
    assert redact(url).endswith(shown)


def test_it_redacts_urls_inside_free_text():
    text = "failed to send to tgram://123:SECRET/99 and mailto://u:pw@mail.example.com ok"
    assert "SECRET" not in redact_text(text) and "pw@" not in redact_text(text)


def test_the_log_filter_rewrites_records_with_arguments():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "sending to %s", ("tgram://1:TOKEN/2",), None)
    RedactingFilter().filter(record)
    assert "TOKEN" not in record.getMessage()


def test_pieces_of_a_handled_url_are_masked_in_whatever_shape_a_library_logs_them():
    from notifier.core.redact import remember_secrets

    remember_secrets("tgram://987654321:AAHsecretBotToken/55555")
    line = "Max retries exceeded with url: /bot987654321:AAHsecretBotToken/sendMessage"
    assert "AAHsecretBotToken" not in redact_text(line)
    assert "127.0.0.1" in redact_text("connecting to 127.0.0.1")  # hosts stay readable


def test_punctuation_right_after_a_url_stays_in_the_sentence():
    text = "send to json://127.0.0.1:9/hook?token=abc: refused"
    assert redact_text(text) == "send to json://127.0.0.1: refused"


def test_the_api_access_log_never_shows_an_unsubscribe_token():
    from notifier.api.serve import TokenPaths

    args = ("127.0.0.1:5000", "POST", "/unsubscribe/0123456789abcdef0123456789abcdef", "1.1", 200)
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None
    )
    TokenPaths().filter(record)
    assert "0123456789abcdef" not in record.getMessage() and "/unsubscribe/***" in record.getMessage()
