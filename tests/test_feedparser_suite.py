"""parse_feed over feedparser's own ~2,200 test documents: odd, broken and hostile feeds must never raise.

The documents come from the feedparser sdist of the installed version, downloaded once with pip into
~/.cache/notifier-tests/feedparser-sdist. Without network the test is skipped, saying so.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import feedparser
import pytest

from notifier.parse import parse_feed

CACHE = Path.home() / ".cache" / "notifier-tests" / "feedparser-sdist"
SUFFIXES = {".xml", ".rdf", ".atom", ".rss"}


def suite_documents() -> list[tuple[str, bytes]]:
    """(name, bytes) of every feed document under the sdist's tests/ tree."""
    version = feedparser.__version__
    tarball = CACHE / f"feedparser-{version}.tar.gz"
    if not tarball.is_file():
        _download(version)
    assert tarball.is_file(), f"pip download did not leave {tarball.name} in {CACHE}"
    with tarfile.open(tarball) as archive:
        members = [
            member
            for member in archive.getmembers()
            if member.isfile() and "/tests/" in member.name and Path(member.name).suffix in SUFFIXES
        ]
        return [
            (member.name.split("/tests/", 1)[1], archive.extractfile(member).read()) for member in members
        ]


def _download(version: str) -> None:
    command = [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps"]
    command += ["--disable-pip-version-check", "-q", "--retries", "1", "--timeout", "15"]
    command += [f"feedparser=={version}", "-d", str(CACHE)]
    CACHE.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    except (subprocess.SubprocessError, OSError) as error:
        pytest.skip(f"cannot download the feedparser {version} sdist: {error}")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.skip(f"cannot download the feedparser {version} sdist (no network?): pip says {last!r}")


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
