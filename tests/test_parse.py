"""parse.py against real feeds: the repo's corpus, two feeds of our own, and small inline documents."""

from __future__ import annotations

import csv
import functools
import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from notifier.feeds.parse import normalise_link, normalise_title, parse_feed, plain_text, story_id
from tests.feeds import corpus_file

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"


def _tsv(name: str) -> list[dict]:
    with corpus_file(name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


MANIFEST = _tsv("MANIFEST.tsv")
CLUSTERS = _tsv("clusters.tsv")

# Entries with no title, no link and no guid are not stories; these counts were checked by hand.
SKIPPED = {
    "scripting-092.xml": 22,  # the RSS 0.92 spec sample: items carry only a description
    "pcmag-nested.xml": 10,  # illegally nested elements make feedparser emit 10 empty entries
    "cerclepsy-nodecl.xml": 1,  # one item is an empty shell
}


@functools.cache  # several tests walk the whole corpus; parse each document once
def corpus(name: str, url: str = "https://example.com/feed"):
    return parse_feed(corpus_file(f"feeds/{name}").read_bytes(), feed_id=name, url=url)


def inline(items: str, url: str = "https://news.example.com/rss", **kwargs):
    body = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>{items}'
    body += "</channel></rss>"
    return parse_feed(body.encode(), feed_id="inline", url=url, **kwargs)


def collapse(text: str) -> str:
    return " ".join(text.split())


def has(script: tuple[str, str], text: str) -> bool:
    return any(script[0] <= char <= script[1] for char in text)


CYRILLIC = ("\u0400", "\u04ff")
ARABIC = ("\u0600", "\u06ff")
CJK = ("\u4e00", "\u9fff")
KANNADA = ("\u0c80", "\u0cff")


# --- the corpus, every feed ---------------------------------------------------------------------------


@pytest.mark.parametrize("row", MANIFEST, ids=lambda row: row["file"].removeprefix("feeds/"))
def test_every_corpus_feed_gives_one_story_per_item(row):
    body = corpus_file(row["file"]).read_bytes()
    assert hashlib.sha256(body).hexdigest() == row["sha256"], "corpus file was edited"
    name = row["file"].removeprefix("feeds/")
    parsed = corpus(name)
    assert len(parsed.stories) == int(row["items"]) - SKIPPED.get(name, 0)
    assert (parsed.bozo is not None) == ("bozo=1" in row["notes"])


def test_titles_and_summaries_are_one_line_of_plain_text():
    for row in MANIFEST:
        for story in corpus(row["file"].removeprefix("feeds/")).stories:
            assert not re.search(r"[\r\n\t\x00-\x1f]", story.title + story.summary), (row["file"], story)
            assert len(story.title) <= 500 and len(story.summary) <= 1000
            assert story.title == story.title.strip()
            if "html_titles" in row["notes"]:
                assert "<" not in story.title, (row["file"], story.title)


def test_an_html_title_comes_out_plain():
    titles = [story.title for story in corpus("nyt-home-2017.xml").stories]
    assert "Trump Insists Mexico Will Pay for Wall After U.S. Begins the Work" in titles
    cased = [s.title for s in corpus("lefigaro-culture.xml").stories if s.title.startswith("La case BD")]
    assert "La case BD: Tintin au pays des Soviets ou la naissance de la houppette" in cased


# --- scripts and encodings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, script",
    [
        ("citydog-by.xml", CYRILLIC),
        ("oren-ru-cp1251.xml", CYRILLIC),  # windows-1251 bytes
        ("ibash-cp1251.xml", CYRILLIC),
        ("yandex-moscow-mojibake.xml", CYRILLIC),  # double-encoded UTF-8, repaired
        ("bbc-urdu.xml", ARABIC),
        ("qq-news-gb2312.xml", CJK),
    ],
)
def test_titles_in_other_scripts_are_readable(name, script):
    titles = [story.title for story in corpus(name).stories]
    assert titles and all(has(script, title) for title in titles)
    assert not any(re.search("[\ufffd\u00c0-\u00ff]", title) for title in titles)


def test_double_encoded_titles_are_repaired():
    yandex = [story.title for story in corpus("yandex-moscow-mojibake.xml").stories]
    assert yandex[0] == "В Москве из-за сильных морозов объявлен «оранжевый» уровень опасности"
    lemonde = [story.title for story in corpus("lemonde-une.xml").stories]
    assert "Côte d’Ivoire : les discussions entre gouvernement et soldats sont différées" in lemonde
    assert not any(marker in title for title in lemonde for marker in ("Ã", "â€", "Â"))


def test_the_kannada_outlet_feed_is_its_english_section():
    # varthabharati-kn.xml holds no Kannada letters at all; Kannada is checked with an inline feed below.
    titles = [story.title for story in corpus("varthabharati-kn.xml").stories]
    assert len(titles) == 15 and not any(has(KANNADA, title) for title in titles)
    assert titles[0] == "ISUZU launches the ‘mu-X’ premium full-size 7 seater SUV in Bengaluru"


def test_kannada_titles_keep_their_vowel_signs():
    title = "ಬೆಂಗಳೂರಿನಲ್ಲಿ ಭಾರಿ ಮಳೆ: ಹಲವು ರಸ್ತೆಗಳು ಜಲಾವೃತ"
    parsed = inline(f"<item><title>{title}</title><link>https://kn.example.com/1</link></item>")
    assert parsed.stories[0].title == title
    assert parsed.stories[0].title_key == "ಬೆಂಗಳೂರಿನಲ್ಲಿ ಭಾರಿ ಮಳೆ ಹಲವು ರಸ್ತೆಗಳು ಜಲಾವೃತ"


@pytest.mark.parametrize(
    "name, titles",
    [
        (
            "hebrew-windows-1255.xml",
            [
                "הכנסת אישרה את תקציב המדינה בקריאה שנייה ושלישית",
                "שריפה גדולה פרצה ביער ליד ירושלים; אין נפגעים",
                "בנק ישראל הותיר את הריבית ללא שינוי",
            ],
        ),
        (
            "greek-iso-8859-7.xml",
            [
                "Σεισμός 5,2 Ρίχτερ στην Κρήτη χωρίς αναφορές για ζημιές",
                "Η Βουλή ψήφισε τον νέο προϋπολογισμό για το 2025",
                "Απεργία στα μέσα μεταφοράς την Πέμπτη στην Αθήνα",
            ],
        ),
    ],
)
def test_a_declared_legacy_encoding_is_decoded(name, titles):
    parsed = parse_feed((FIXTURES / name).read_bytes(), feed_id=name, url="https://example.com/feed")
    assert parsed.bozo is None
    assert [story.title for story in parsed.stories] == titles
    assert [story.summary for story in parsed.stories] == titles  # escaped <p> in the description


def test_the_http_charset_overrides_a_missing_declaration():
    body = "<rss version='2.0'><channel><item><title>Привет мир</title><guid>1</guid></item></channel></rss>"
    parsed = parse_feed(
        body.encode("koi8-r"), feed_id="f", url="https://e.com/rss", content_type="text/xml; charset=koi8-r"
    )
    assert parsed.stories[0].title == "Привет мир"


# --- links ---------------------------------------------------------------------------------------------


def test_relative_item_links_resolve_against_the_feed_url():
    tpm = corpus("tpm-atom.xml", url="https://talkingpointsmemo.com/feed/all").stories
    assert tpm[0].link == (
        "https://talkingpointsmemo.com/livewire/"
        "hannity-announces-fox-hired-sebastian-gorka-national-security-strategist"
    )
    never = corpus(
        "neverwinter-relurls.xml", url="http://www.arcgames.com/en/games/neverwinter/news/rss"
    ).stories
    assert never[0].link == (
        "http://www.arcgames.com/en/games/neverwinter/news/detail/10743874-neverwinter-%26-jingle-jam-humble-bundle%21"
    )
    assert all(story.link.startswith(("http://", "https://")) for story in tpm + never)


def test_the_websub_hub_and_self_url_are_found():
    golem = corpus("golem-latin1.xml")
    assert golem.hub == "http://golem.superfeedr.com/"
    assert golem.self_url == "https://rss.golem.de/rss.php?feed=RSS2.0"
    atom = parse_feed(
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><link rel="hub" href="https://hub.example/"/>'
        b'<link rel="self" href="/atom.xml"/><entry><id>urn:1</id><title>One</title></entry></feed>',
        feed_id="a",
        url="https://site.example/feeds/atom.xml",
    )
    assert (atom.hub, atom.self_url) == ("https://hub.example/", "https://site.example/atom.xml")


def test_a_script_title_and_a_javascript_link_are_defused():
    parsed = inline(
        "<item><title>&lt;script&gt;alert(1)&lt;/script&gt;"
        "Breaking: &lt;b&gt;bold&lt;/b&gt; news\r\nhere</title>"
        "<link>javascript:alert(1)</link><guid>x1</guid></item>"
        "<item><title><![CDATA[<script>alert(2)</script><img src=x onerror=alert(3)>Quiet day]]></title>"
        "<link>data:text/html,hi</link><guid>x2</guid></item>"
    )
    assert [(s.title, s.link, s.link_key) for s in parsed.stories] == [
        ("Breaking: bold news here", None, None),
        ("Quiet day", None, None),
    ]


def test_a_body_that_looks_like_a_path_is_parsed_not_opened(tmp_path):
    feed = tmp_path / "feed.xml"
    feed.write_bytes(b"<rss><channel><item><title>Secret</title><guid>1</guid></item></channel></rss>")
    assert parse_feed(str(feed).encode(), feed_id="f", url="https://e.com/rss").stories == []


# --- identity ------------------------------------------------------------------------------------------


def test_items_without_a_guid_get_stable_distinct_ids():
    first, second = corpus("leparisien-une.xml").stories, corpus("leparisien-une.xml").stories
    assert all(story.guid is None for story in first)
    assert [story.id for story in first] == [story.id for story in second]
    assert len({story.id for story in first}) == len(first) == 30


def test_a_story_repeated_in_one_feed_keeps_one_id():
    stories = corpus("al-monitor.xml").stories
    assert len({stories[index].id for index in (15, 16, 17, 18)}) == 1
    assert len({story.id for story in stories}) == 11  # 20 items, 9 repeats


def test_the_id_prefers_guid_then_link_then_title():
    key = normalise_link("https://e.com/a")
    title = "Quake hits the coast at dawn"
    assert story_id("f", "g1", key, title) != story_id("f", None, key, title)
    assert story_id("f", None, key, title) == story_id("other feed", None, key, "another title")
    assert story_id("f", None, None, title) == story_id("f", None, None, "QUAKE hits the coast, at dawn!")
    assert story_id("f", None, None, "Live") != story_id("f", None, None, "Updates")
    assert story_id("a", "bc", None, "") != story_id("ab", "c", None, "")


@pytest.mark.parametrize(
    "url, base, key",
    [
        (
            "https://EXAMPLE.com/News/A?utm_source=x&utm_MEDIUM=y&id=3",
            None,
            "https://example.com/News/A?id=3",
        ),
        ("https://e.com/a?fbclid=1&gclid=2&b=&a=1", None, "https://e.com/a?a=1&b="),
        (
            "https://e.com/a?ocid=x&at_medium=y&smid=z&CMPID=q&mc_cid=m&ref_src=r&x=1",
            None,
            "https://e.com/a?x=1",
        ),
        ("https://e.com/story/#comments", None, "https://e.com/story"),
        ("http://e.com:80/a", None, "https://e.com/a"),
        ("https://e.com:443/a", None, "https://e.com/a"),
        ("https://e.com:8443/a", None, "https://e.com:8443/a"),
        ("https://user:pw@E.COM/", None, "https://e.com"),
        ("https://e.com", None, "https://e.com"),
        ("https://e.com/?b=2&a=1", None, "https://e.com?a=1&b=2"),
        ("http://e.com/a", None, "https://e.com/a"),
        ("/world/story-1/", "https://www.e.com/rss/world.xml", "https://www.e.com/world/story-1"),
        ("story-2", "https://www.e.com/rss/", "https://www.e.com/rss/story-2"),
        ("//cdn.e.com/x", "http://e.com/feed", "https://cdn.e.com/x"),
        ("https://[2001:DB8::1]:8080/a", None, "https://[2001:db8::1]:8080/a"),
        ("javascript:alert(1)", None, None),
        ("data:text/html,x", "https://e.com/", None),
        ("mailto:a@e.com", None, None),
        ("/relative/without/base", None, None),
        ("https://[::1/broken", None, None),
        ("https://e.com:99999/a", None, None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_normalise_link(url, base, key):
    assert normalise_link(url, base) == key


def test_http_and_https_give_the_same_link_key():
    assert normalise_link("http://www.E.com/a/?utm_campaign=rss") == normalise_link("https://www.e.com/a#top")


@pytest.mark.parametrize(
    "left, right",
    [
        ("Jesse Jackson dies aged 84", "JESSE JACKSON DIES, AGED 84!"),
        ("U.S. strikes Iran's nuclear sites", "US strikes Irans nuclear sites"),
        ("Quake: 1,000 feared dead in Turkey", "Quake — 1000 feared dead in Turkey"),
        ("Η Βουλή ψήφισε τον νέο προϋπολογισμό", "Η ΒΟΥΛΉ ψήφισε τον νέο «προϋπολογισμό»"),
        ("В Москве объявлен оранжевый уровень", "в москве объявлен «оранжевый» уровень"),
        ("CÃ´te dâ€™Ivoire : les soldats sont payés", "Côte d’Ivoire: les soldats sont payés"),
    ],
)
def test_titles_differing_in_case_punctuation_or_mojibake_share_a_key(left, right):
    assert normalise_title(left) == normalise_title(right) is not None


@pytest.mark.parametrize(
    "title", ["Live updates", "Morning briefing", "Breaking: news!", "", "   ", "一二三四五"]
)
def test_titles_under_four_words_have_no_key(title):
    assert normalise_title(title) is None


# --- text ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "markup, text",
    [
        ("<p>One</p><p>two</p>", "One two"),
        ("un<b>believ</b>able", "unbelievable"),
        ("a<script>var x = '<p>';</script>b<style>p {}</style>c", "abc"),
        ("Tom &amp;amp; Jerry &#8217;s &eacute;", "Tom & Jerry ’s é"),
        ("&lt;p&gt;Escaped &lt;i&gt;twice&lt;/i&gt;&lt;/p&gt;", "Escaped twice"),
        ("tab\there\r\nnbsp\u00a0and\u2028line", "tab here nbsp and line"),
        ("AT&T <3 x < y", "AT&T <3 x < y"),
        ("bell\x07and\x00null", "bell and null"),
        ("<![CDATA[kept]]> text <!-- dropped -->", "kept text"),
        ("a <![bogus[x]]> b", "a <![bogus[x]]> b"),  # html.parser raises on it; kept as text
        ("half a <b", "half a <b"),
    ],
)
def test_plain_text(markup, text):
    assert plain_text(markup) == text


def test_long_summaries_are_cut_at_a_word_with_an_ellipsis():
    words = " ".join(f"word{i}" for i in range(1000))
    parsed = inline(
        f"<item><title>Long one here</title><guid>1</guid><description>{words}</description></item>"
    )
    summary = parsed.stories[0].summary
    assert len(summary) <= 1000 and summary.endswith("…") and summary[:-1] in words
    assert words.startswith(summary[:-1] + " ")


def test_content_is_used_when_there_is_no_summary():
    parsed = parse_feed(
        b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>urn:1</id><title>T</title>'
        b'<content type="html">&lt;p&gt;Body &amp;amp; soul&lt;/p&gt;</content></entry></feed>',
        feed_id="a",
        url="https://e.com/atom",
    )
    assert parsed.stories[0].summary == "Body & soul"


# --- dates ---------------------------------------------------------------------------------------------


def test_every_date_is_utc_aware_or_none():
    for row in MANIFEST:
        for story in corpus(row["file"].removeprefix("feeds/")).stories:
            assert story.published is None or story.published.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    "name, index, moment",
    [
        ("csmonitor.xml", 0, datetime(2026, 2, 17, 23, 3, 7, tzinfo=UTC)),  # "18:03:07 EST"
        ("al-monitor.xml", 0, datetime(2026, 2, 17, 22, 36, 36, tzinfo=UTC)),  # "17:36:36-0500"
        ("nbc-newyork.xml", 0, datetime(2023, 12, 16, 14, 2, 33, tzinfo=UTC)),  # "02:02:33 PM", no zone
        ("uol-noticias.xml", 0, datetime(2018, 9, 24, 22, 42, 40, tzinfo=UTC)),  # "Seg, 24 Set ... -0300"
        ("ilmessaggero.xml", 0, datetime(2022, 11, 15, 23, 38, 15, tzinfo=UTC)),  # "mer, 16 nov +0100"
        ("neverwinter-relurls.xml", 0, datetime(2017, 12, 7, 18, 0, 29, tzinfo=UTC)),  # "07 Dec 17"
        ("japantimes-2017.xml", 0, None),  # no pubDate
    ],
)
def test_dates_are_read_in_utc(name, index, moment):
    assert corpus(name).stories[index].published == moment


def test_dates_far_in_the_future_are_dropped():
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    parsed = inline(
        "<item><guid>1</guid><title>a</title><pubDate>Mon, 02 Mar 2026 12:00:00 GMT</pubDate></item>"
        "<item><guid>2</guid><title>b</title><pubDate>Fri, 01 Jan 2027 00:00:00 GMT</pubDate></item>"
        "<item><guid>3</guid><title>c</title><pubDate>not a date</pubDate></item>",
        now=now,
    )
    assert [story.published for story in parsed.stories] == [datetime(2026, 3, 2, 12, tzinfo=UTC), None, None]


# --- the hand-labelled clusters index the same items we do --------------------------------------------


@pytest.mark.parametrize("row", CLUSTERS, ids=lambda row: f"{row['cluster_id'][:3]}-{row['file'][6:]}")
def test_cluster_rows_name_our_story_at_that_index(row):
    stories = corpus(row["file"].removeprefix("feeds/")).stories
    story = stories[int(row["item_index_or_guid"])]
    assert collapse(story.title) == collapse(row["title"])
