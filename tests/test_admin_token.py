"""The operator's token: made once by whichever process starts first, shown once, never again."""

from __future__ import annotations

import logging
import threading

from notifier.core import admin
from notifier.core.redact import redact_text
from notifier.settings import get_settings


def test_the_first_process_makes_the_token_and_every_later_one_makes_none(env, r):
    settings = get_settings()
    results: list[str | None] = []
    starters = [threading.Thread(target=lambda: results.append(admin.ensure(r, settings))) for _ in range(8)]
    for thread in starters:
        thread.start()
    for thread in starters:
        thread.join()
    [token] = [t for t in results if t]
    assert results.count(None) == 7 and admin.ensure(r, settings) is None
    assert admin.verify(r, settings, token) and not admin.verify(r, settings, token + "x")
    assert token not in str([r.get(k) for k in r.keys("*") if r.type(k) == "string"])  # only its hash


def test_once_made_the_token_is_masked_in_every_log_line(env, r):
    token = admin.ensure(r, get_settings())
    assert token not in redact_text(f"Authorization: Bearer {token}")


def test_a_token_set_in_the_environment_is_used_and_nothing_is_stored(env, r, monkeypatch):
    monkeypatch.setenv("NOTIFIER_ADMIN_TOKEN", "operator-chosen-token")
    get_settings.cache_clear()
    settings = get_settings()
    assert admin.ensure(r, settings) is None and not r.exists(admin.KEY)
    assert admin.verify(r, settings, "operator-chosen-token")
    assert "operator-chosen-token" not in redact_text("token operator-chosen-token")


def test_a_token_an_earlier_version_kept_in_the_data_dir_is_adopted(env, r):
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / admin.OLD_FILE).write_text("kept-from-before\n")
    assert admin.ensure(r, settings) is None
    assert admin.verify(r, settings, "kept-from-before")


def test_the_new_token_is_printed_not_logged(env, r, capsys, caplog):
    with caplog.at_level(logging.DEBUG):
        admin.ensure_and_announce(r, get_settings())
    printed = capsys.readouterr().out
    [token] = [line.rsplit(": ", 1)[1] for line in printed.splitlines() if "admin token (shown once" in line]
    assert not [rec for rec in caplog.records if token in rec.getMessage()]
