"""parse_feed over feedparser's own ~2,200 test documents: odd, broken and hostile feeds must never raise.

The documents come from the feedparser sdist of the installed version, which `make install` downloads
into .venv/feedparser-sdist/ beside the venv it matches. The test never downloads: without the sdist
it fails and says to run `make install`.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import feedparser
import pytest

from notifier.feeds.parse import parse_feed

SDIST = Path(__file__).resolve().parent.parent / ".venv" / "feedparser-sdist"  # see the Makefile
SUFFIXES = {".xml", ".rdf", ".atom", ".rss"}


def suite_documents() -> list[tuple[str, bytes]]:
    """(name, bytes) of every feed document under the sdist's tests/ tree."""
    tarball = SDIST / f"feedparser-{feedparser.__version__}.tar.gz"
    if not tarball.is_file():
        pytest.fail(f"{tarball} is missing: run `make install`, which downloads it", pytrace=False)
    with tarfile.open(tarball) as archive:
        members = [
            member
            for member in archive.getmembers()
            if member.isfile() and "/tests/" in member.name and Path(member.name).suffix in SUFFIXES
        ]
        return [
            (member.name.split("/tests/", 1)[1], archive.extractfile(member).read()) for member in members
        ]


def test_no_document_of_feedparsers_own_suite_breaks_parse_feed():
    documents = suite_documents()
    failures = []
    for name, body in documents:
        try:
            parsed = parse_feed(body, feed_id="suite", url="http://example.com/feed")
        except Exception as error:  # collect every failure, then report them together
            failures.append(f"{name}: raised {type(error).__name__}: {error}")
            continue
        for story in parsed.stories:
            if "\r" in story.title or "\n" in story.title:
                failures.append(f"{name}: title with CR/LF {story.title!r}")
            if story.link is not None and not story.link.startswith(("http://", "https://")):
                failures.append(f"{name}: link {story.link!r}")
    assert len(documents) >= 1500, f"only {len(documents)} documents found in the sdist"
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures)
