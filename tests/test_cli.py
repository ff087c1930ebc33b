"""The command line as a user meets it: the installed `notifier` script run as a subprocess.

Usage errors of every kind, whichever click or typer raised them, are one line on stderr, exit
code 2 and no traceback (a rich traceback box is what typer shows when an error escapes, so its
characters must never appear); `--version`; help on every command and option; feed and user text
printed as text, never as terminal markup; Ctrl-C is one line and exit code 130.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

import notifier
from notifier.alerts import ledger
from notifier.models import Story
from notifier.stories import claim
from tests.service import service_env

NOTIFIER = Path(sys.executable).parent / "notifier"
TRACEBACK_MARKS = ("Traceback", "╭", "│", "╰", "┃")


def run_cli(redis_url: str, workdir: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run the installed console script against the test Redis, in a directory with no `.env`."""
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith("NOTIFIER_") or k.startswith("NOTIFIER_TEST")
    }
    settings = service_env(workdir, redis_url, NOTIFIER_MIN_INTERVAL="10", NOTIFIER_FETCH_MAX_BYTES="2048")
    settings["COLUMNS"] = "400"  # rich tables then never fold a cell across lines
    return subprocess.run(
        [str(NOTIFIER), *args],
        env=clean | settings | env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
    )


def refused(done: subprocess.CompletedProcess, *words: str) -> None:
    """Exit 2, nothing on stdout, exactly one `notifier: ` line on stderr, no traceback."""
    shown = done.stdout + done.stderr
    assert done.returncode == 2, shown
    assert done.stdout == "", shown
    assert done.stderr.startswith("notifier: ") and done.stderr.count("\n") == 1, shown
    assert done.stderr.endswith("\n"), shown
    assert not [mark for mark in TRACEBACK_MARKS if mark in shown], shown
    for word in words:
        assert word in done.stderr, shown


@pytest.fixture
def cli(redis_url, tmp_path):
    return lambda *args, **env: run_cli(redis_url, tmp_path, *args, **env)


USAGE_ERRORS = (
    (["feed", "add"], ["Missing argument", "URL"]),
    (["frobnicate"], ["No such command", "frobnicate"]),
    (["feed", "add", "http://127.0.0.1:9/f.xml", "--interval", "abc"], ["--interval"]),
    (["subscriber", "add", "x"], ["--notify"]),
    (["feed", "list", "--bogus"], ["--bogus"]),
    (["--bogus"], ["--bogus"]),
    (["feed", "add", "http://127.0.0.1:9/f.xml", "--interval", "0"], ["NOTIFIER_MIN_INTERVAL"]),
    (["feed", "add", "http://127.0.0.1:9/f.xml", "--interval", "-5"], ["NOTIFIER_MIN_INTERVAL"]),
    (["feed", "add", "http://127.0.0.1:9/f.xml", "--interval", "9"], ["NOTIFIER_MIN_INTERVAL"]),
    (["feed", "add", "gopher://example.com/"], []),
    (["topic", "add", "t", "--match", "(storm OR"], ["position"]),
    (["topic", "remove", "nope"], ["no topic"]),
    (["subscriber", "remove", "nope"], ["no subscriber"]),
    (["subscriber", "update", "nope", "--add-topic", "t"], ["no subscriber"]),
    (["feed", "disable", "nope"], ["no feed"]),
    (["story", "show", "nope"], ["no story"]),
    (["story", "list", "--limit", "0"], ["--limit"]),
    (["story", "list", "--topic", "nope"], ["no topic"]),
    (["deliveries", "retry"], ["Missing argument"]),
    (["deliveries", "retry", "nope"], ["no delivery"]),
    (["deliveries", "frobnicate"], ["No such command"]),
    (["parse", "/no/such/file.xml"], ["cannot read"]),
    (["parse", "/dev/zero"], ["NOTIFIER_FETCH_MAX_BYTES"]),
)


def all_refused(cli, cases) -> None:
    """Run (args, words) cases side by side, each in its own process; a failure names its command."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda case: cli(*case[0]), cases))
    for (args, words), done in zip(cases, outcomes, strict=True):
        try:
            refused(done, *words)
        except AssertionError as error:
            raise AssertionError(f"notifier {' '.join(args)}: {error}") from None


def test_a_usage_error_is_one_line_on_stderr_exit_2_and_no_traceback(cli, r):
    all_refused(cli, USAGE_ERRORS)
    assert r.dbsize() == 0


def test_parse_refuses_a_file_over_the_fetch_size_cap_before_reading_it(cli, tmp_path):
    big = tmp_path / "big.xml"
    big.write_bytes(b"<rss>" + b" " * 4096 + b"</rss>")
    refused(cli("parse", str(big)), "NOTIFIER_FETCH_MAX_BYTES", "2048")


def test_version_help_and_a_group_without_its_subcommand(cli):
    done = cli("--version")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"notifier {notifier.__version__}\n", "")
    for args, first in (([], "Usage: notifier [OPTIONS]"), (["feed"], "Usage: notifier feed [OPTIONS]")):
        done = cli(*args)  # no subcommand: the help, on stdout, as --help would
        assert done.returncode == 0 and done.stderr == "" and done.stdout.startswith(first), done
    shown = cli("--help").stdout
    for noun in ("feed", "topic", "subscriber", "story", "deliveries", "status", "poll", "parse", "run"):
        assert f"\n  {noun} " in shown
    done = subprocess.run([sys.executable, "-m", "notifier", "--version"], capture_output=True, text=True)
    assert done.stdout == f"notifier {notifier.__version__}\n"


CONTRACT_COMMANDS = [
    "feed add", "feed list", "feed remove", "feed enable", "feed disable", "feed import", "feed export",
    "topic add", "topic list", "topic remove", "subscriber add", "subscriber update", "subscriber list",
    "subscriber remove", "story list", "story show", "deliveries", "deliveries retry", "status", "poll",
    "parse", "run", "worker", "beat", "api",
]  # fmt: skip


def test_every_command_and_every_option_says_what_it_does(capsys):
    from typer.main import get_command

    from notifier.cli import app

    root, found = get_command(app), {}

    def walk(command, path: str) -> None:
        found[path] = command
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}".strip())

    walk(root, "")
    assert set(CONTRACT_COMMANDS) <= set(found)
    for path, command in found.items():
        assert (command.help or "").strip(), f"`notifier {path}` has no help"
        for param in command.params:
            assert (getattr(param, "help", None) or "").strip(), (
                f"`notifier {path}`: {param.name} has no help"
            )
        assert root.main([*path.split(), "--help"], prog_name="notifier", standalone_mode=False) == 0
        assert capsys.readouterr().out.startswith(f"Usage: notifier {path}".rstrip() + " ")


MARKUP = "Wire [/b] desk [link=http://evil.example]click[/link] [bold red]x"


def test_feed_and_user_text_is_printed_as_text_never_as_markup(cli, r):
    feed_id = cli("feed", "add", "http://127.0.0.1:9/f.xml", "--name", MARKUP).stdout.strip()
    title = f"Storm {MARKUP} \x1b[31mred\x1b[0m end"
    story = Story("s1", feed_id, title, "https://n.example/1", datetime(2026, 3, 1, tzinfo=UTC), MARKUP, "g1")
    claim.claim_stories(r, feed_id, [story], story_ttl=3600, title_ttl=600, pending_at=0)
    [did] = ledger.create(r, [("s1", f"ann {MARKUP}", "h1", "json://127.0.0.1")], ttl=3600, lease_until=0)
    ledger.finish(r, did, "failed", error=f"boom {MARKUP}")
    for args in (["feed", "list"], ["story", "show", "s1"], ["story", "list"], ["deliveries"], ["status"]):
        done = cli(*args)
        assert done.returncode == 0 and done.stderr == "", done
        assert MARKUP in done.stdout, (args, done.stdout)
        assert "\x1b" not in done.stdout, args
    assert "Storm Wire" in cli("story", "show", "s1").stdout and "\\x1b[31mred" in cli("story", "list").stdout


def test_ctrl_c_is_one_line_and_exit_130(redis_url, tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/feed.xml"
        env = os.environ | service_env(tmp_path, redis_url)
        # as from a terminal: a parent that ignores SIGINT (pytest-xdist's workers do) would pass
        # that on, and a process started with SIGINT ignored rightly keeps ignoring it
        poll = subprocess.Popen(
            [str(NOTIFIER), "poll", url],
            env=env,
            cwd=tmp_path,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        silent.settimeout(30)
        connection, _ = silent.accept()  # the fetch is under way: the CLI is running its command
        with connection:
            time.sleep(0.2)
            poll.send_signal(signal.SIGINT)
            _, err = poll.communicate(timeout=30)
    assert (poll.returncode, err) == (130, "notifier: interrupted\n")
