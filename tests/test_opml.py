"""OPML: the files other readers export, round trips through `notifier feed export/import`, and
hostile files.

Reading is checked on the files in tests/fixtures/opml, each saying in its header what it checks.
The CLI tests run the real `notifier` against the test Redis. No test needs the internet: feed
URLs are IP literals, which the address guard checks without DNS.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from notifier.feeds.opml import OpmlError, OutlineFeed, read_opml, write_opml
from notifier.models import Feed
from notifier.stories import store
from tests.service import ROOT, Service, service_env

FIXTURES = Path(__file__).parent / "fixtures" / "opml"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def pairs(outlines: list[OutlineFeed]) -> list[tuple[str, str]]:
    return [(o.url, o.name) for o in outlines]


def stored(r) -> set[tuple[str, str]]:
    return {(f.url, f.name) for f in store.list_feeds(r)}


@pytest.fixture
def notifier(tmp_path, redis_url):
    with Service(service_env(tmp_path, redis_url), tmp_path) as service:
        yield service


# --- reading the files other readers write ------------------------------------------------------

A = "http://127.0.0.1:8701"
EXPORTS = {
    "feedly.opml": [
        (f"{A}/news/world/rss.xml", "BBC News - World"),
        (
            f"{A}/xml/rss/all.xml",
            "Al Jazeera – Breaking News, World News and Video from Al Jazeera",
        ),
        (f"{A}/reuters/worldNews", "Reuters: World News"),
        (f"{A}/arstechnica/index", "Ars Technica"),
        (f"{A}/rss/dyn/breaking_news.rss", "NASA Breaking News"),
        (f"{A}/rss/index.xml", "The Verge"),
    ],
    "inoreader.opml": [
        ("http://127.0.0.1:8702/ap/topnews", "AP Top News"),
        ("http://127.0.0.1:8702/dw/rdf/rss-en-all", "Deutsche Welle"),
        ("http://127.0.0.1:8702/hn/rss", "Hacker News"),
    ],
    "netnewswire.opml": [
        ("http://127.0.0.1:8703/feeds/main", "Daring Fireball"),
        ("http://127.0.0.1:8703/world/rss", "The Guardian – World"),
        ("http://127.0.0.1:8703/atom.xml", "Atom Example"),
    ],
    "nested.opml": [
        ("http://127.0.0.1:8704/yle.xml", "Yle News"),
        ("http://127.0.0.1:8704/euobs.atom", "EU Observer"),
        ("http://127.0.0.1:8704/untyped.xml", "Untyped feed"),
        ("http://127.0.0.1:8704/met.xml", "Met Office warnings"),
        ("http://127.0.0.1:8704/shout.xml", "Shouting exporter"),
        ("http://127.0.0.1:8704/nameless.xml", "http://127.0.0.1:8704/nameless.xml"),
    ],
    "duplicates.opml": [
        ("http://127.0.0.1:8705/wire", "Wire (first)"),
        ("http://127.0.0.1:8705/wire/", "Wire slash"),
    ],
    "cyrillic-windows-1251.opml": [
        ("http://127.0.0.1:8710/ru/news.rss", "Новости России"),
        ("http://127.0.0.1:8710/lenta/top.rss", "Лента: главное"),
    ],
    "doctype.opml": [("http://127.0.0.1:8709/plain.xml", "Plain")],
}


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_each_file_gives_its_feeds_in_order_once_each_with_their_names(name):
    assert pairs(read_opml(fixture(name))) == EXPORTS[name]


def test_an_interval_attribute_is_read_when_a_hand_written_file_carries_one():
    data = b"""<opml version="2.0"><body>
        <outline text="a" xmlUrl="http://127.0.0.1/a" interval="90"/>
        <outline text="b" xmlUrl="http://127.0.0.1/b" interval="soon"/>
        <outline text="c" xmlUrl="http://127.0.0.1/c"/>
    </body></opml>"""
    assert [o.interval for o in read_opml(data)] == [90, None, None]


def test_a_malformed_file_raises_one_line_naming_the_line_and_column():
    with pytest.raises(OpmlError) as caught:
        read_opml(fixture("malformed.opml"))
    message = str(caught.value)
    assert "line 9, column" in message and "\n" not in message


@pytest.mark.parametrize("data", [b"", b"   ", b"\xff\xfe\x00garbage", b"<opml><body>"])
def test_empty_truncated_and_binary_input_is_refused_as_not_valid_xml(data):
    with pytest.raises(OpmlError, match="not valid XML"):
        read_opml(data)


def test_a_feed_rather_than_an_opml_file_is_refused_by_its_root_element():
    rss = (Path(__file__).parent / "fixtures" / "feeds" / "greek-iso-8859-7.xml").read_bytes()
    with pytest.raises(OpmlError, match="root element is <rss>"):
        read_opml(rss)


@pytest.mark.parametrize("name", ["billion-laughs.opml", "external-entity.opml"])
def test_entity_declarations_are_refused_before_anything_is_expanded_or_read(name):
    with pytest.raises(OpmlError, match="declares XML entities") as caught:
        read_opml(fixture(name))
    assert "root:" not in str(caught.value)  # nothing of /etc/passwd leaks into the message


# --- writing ------------------------------------------------------------------------------------


def feed(url: str, name: str) -> Feed:
    return Feed(id=store.feed_id_for(url), url=url, name=name, interval=300)


NAMES = [
    "Ben & Jerry's <b>Scoops</b>",
    'He said "breaking" & left',
    "Ελληνικά νέα",
    "新闻 · 中文",
    "חדשות בעברית",
    "أخبار عاجلة",
    "Новости",
    "🚨 Alerts\tand tabs",
]


def test_written_opml_is_version_2_with_a_title_a_date_and_one_rss_outline_per_feed():
    data = write_opml([feed("http://127.0.0.1:1/a?x=1&y=2", "A"), feed("http://127.0.0.1:1/b", "B")], 0)
    text = data.decode()
    assert text.startswith("<?xml") and '<opml version="2.0">' in text
    assert "<title>notifier feeds</title>" in text
    assert "<dateCreated>Thu, 01 Jan 1970 00:00:00 GMT</dateCreated>" in text
    assert '<outline type="rss" text="A" title="A" xmlUrl="http://127.0.0.1:1/a?x=1&amp;y=2" />' in text
    assert text.count("<outline ") == 2


def test_names_with_markup_quotes_and_other_scripts_survive_write_then_read():
    feeds = [feed(f"http://127.0.0.1:1/{i}", name) for i, name in enumerate(NAMES)]
    assert pairs(read_opml(write_opml(feeds))) == [(f.url, f.name) for f in feeds]


def test_characters_xml_cannot_carry_are_dropped_so_the_file_stays_readable():
    written = write_opml([feed("http://127.0.0.1:1/x", "bell\x07 and nul\x00")])
    assert pairs(read_opml(written)) == [("http://127.0.0.1:1/x", "bell and nul")]


# --- the command line ---------------------------------------------------------------------------


def test_export_then_import_into_an_empty_database_gives_the_same_urls_and_names(notifier, r, tmp_path):
    for i, name in enumerate(NAMES):
        store.add_feed(r, f"http://127.0.0.1:8711/{i}?x=1&y=2", name, 300)
    before = stored(r)
    exported = tmp_path / "feeds.opml"
    assert notifier.cli("feed", "export", str(exported)).returncode == 0
    on_stdout = notifier.cli("feed", "export").stdout.encode()
    assert pairs(read_opml(on_stdout)) == pairs(read_opml(exported.read_bytes()))

    r.flushdb()
    done = notifier.cli("feed", "import", str(exported))
    assert done.stdout.strip() == f"imported {len(NAMES)} feeds, 0 already present, 0 refused"
    assert stored(r) == before


def test_importing_a_feedly_export_twice_adds_its_feeds_once_and_counts_them_present(notifier, r):
    path = str(FIXTURES / "feedly.opml")
    first = notifier.cli("feed", "import", path)
    assert first.stdout.strip() == "imported 6 feeds, 0 already present, 0 refused"
    assert stored(r) == set(EXPORTS["feedly.opml"])
    again = notifier.cli("feed", "import", path)
    assert again.stdout.strip() == "imported 0 feeds, 6 already present, 0 refused"
    assert stored(r) == set(EXPORTS["feedly.opml"])


def test_imported_feeds_are_due_at_once_with_the_default_interval(notifier, r):
    notifier.env["NOTIFIER_DEFAULT_INTERVAL"] = "120"
    notifier.cli("feed", "import", str(FIXTURES / "nested.opml"))
    listed = notifier.cli_json("feed", "list")
    assert len(listed) == 6 and {f["interval"] for f in listed} == {120}
    assert r.zcard("feeds:due") == 6


def test_refused_urls_are_reported_one_line_each_while_the_others_are_imported_with_exit_1(notifier, r):
    notifier.env["NOTIFIER_ALLOW_PRIVATE_HOSTS"] = "false"
    done = notifier.cli("feed", "import", str(FIXTURES / "refused.opml"), check=False)
    assert done.returncode == 1
    assert done.stdout.strip() == "imported 2 feeds, 0 already present, 4 refused"
    lines = done.stderr.splitlines()
    assert len(lines) == 4 and "Traceback" not in done.stderr
    for url in ("169.254.169.254", "file:///etc/passwd", "127.0.0.1:6379", "gopher://"):
        assert sum(url in line for line in lines) == 1, (url, lines)
    assert {url for url, _ in stored(r)} == {
        "http://151.101.0.81/news/world/rss.xml",
        "https://104.16.132.229/feed.xml",
    }


@pytest.mark.parametrize(
    "name, message",
    [
        ("malformed.opml", "line 9"),
        ("billion-laughs.opml", "declares XML entities"),
        ("external-entity.opml", "declares XML entities"),
        ("no-such-file.opml", "cannot read"),
    ],
)
def test_a_file_that_cannot_be_read_exits_2_with_one_line_and_stores_nothing(notifier, r, name, message):
    store.add_feed(r, "http://127.0.0.1:8712/kept.xml", "Kept", 300)
    done = notifier.cli("feed", "import", str(FIXTURES / name), check=False)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and message in done.stderr and "Traceback" not in done.stderr
    assert stored(r) == {("http://127.0.0.1:8712/kept.xml", "Kept")}


def test_export_to_a_path_that_cannot_be_written_exits_2_with_one_line(notifier, tmp_path):
    done = notifier.cli("feed", "export", str(tmp_path / "missing" / "dir" / "x.opml"), check=False)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "cannot write" in done.stderr


def many_feeds_opml(count: int) -> bytes:
    folders = "".join(
        f'<outline text="Folder {folder}">'
        + "".join(
            f'<outline type="rss" text="Feed {i}" xmlUrl="http://127.0.0.1:8713/feed/{i}.xml"/>'
            for i in range(folder * 50, folder * 50 + 50)
        )
        + "</outline>"
        for folder in range(count // 50)
    )
    return f'<?xml version="1.0"?><opml version="2.0"><body>{folders}</body></opml>'.encode()


def run_on_a_terminal(service: Service, *args: str) -> tuple[int, str]:
    """Run `notifier` with a pseudo-terminal as its stdout, as a person at a shell would."""
    parent, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "notifier", *args], env=service.env, cwd=ROOT, stdout=child, stderr=child
    )
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(parent, 65536)
        except OSError:  # EIO: the child has closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(parent)
    return proc.wait(timeout=60), b"".join(chunks).decode(errors="replace")


def test_a_500_feed_opml_imports_with_a_progress_bar_on_a_terminal(notifier, r, tmp_path):
    path = tmp_path / "many.opml"
    path.write_bytes(many_feeds_opml(500))
    code, output = run_on_a_terminal(notifier, "feed", "import", str(path))
    assert code == 0, output
    assert "importing" in output  # the progress bar was drawn
    assert "imported 500 feeds, 0 already present, 0 refused" in output
    assert r.scard("feeds") == 500 and r.zcard("feeds:due") == 500
