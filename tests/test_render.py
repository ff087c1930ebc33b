"""render.py: every channel gets a well-formed, escaped message within its limits.

Real stories come from the repo's corpus; the hostile story carries markup, template syntax and
a javascript: link. Sends go through real Apprise to real local sinks (SMTP, HTTP); Slack,
Telegram, Discord and the SMS and push services have fixed public hosts, so for them the
rendered payload is checked without sending.
"""

from __future__ import annotations

import json
import logging
import re
from html.parser import HTMLParser
from pathlib import Path

import apprise
import pytest
from jinja2.exceptions import SecurityError, UndefinedError

from notifier.alerts.channels import via_apprise
from notifier.alerts.links import links_many
from notifier.alerts.render import (
    CHANNELS,
    Links,
    render_for,
    render_shared,
    web_link,
)
from notifier.alerts.templating import cut, sandbox
from notifier.feeds.parse import parse_feed
from notifier.models import Subscriber, Topic
from notifier.settings import get_settings
from notifier.stories import store
from tests.alerting import send_for_row
from tests.feeds import corpus_file
from tests.sinks import HttpSink, SmtpSink

URLS = {
    "email": "mailto://user:pw@localhost:2525?smtp=127.0.0.1&from=alerts@example.com&to=reader@example.com",
    "slack": "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#news",
    "mattermost": "mmost://127.0.0.1:8065/abcdefghijklmnop",
    "telegram": "tgram://123456789:abcdefg_hijklmnop/12315544/",
    "discord": "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js",
    "ntfy": "ntfy://127.0.0.1:8080/alerts",
    "push": "pover://uQiRzpo4DXghDmr9QzzfQu27cmVRsG@azGDORePK8gMaC0QOYAMyEEuzJnyUi",
    "sms": "twilio://AC735c307c62944b5a:e29dfbcebf390dee9@12345678901/98765432109",
    "json": "json://127.0.0.1:8000/hook",
    "text": "form://127.0.0.1:8000/hook",
}
LINKS = Links("https://alerts.example.org/", "https://alerts.example.org/unsubscribe/" + "ab12" * 8)
HOSTILE = {
    "id": "hostile",
    "title": "<script>alert(1)</script> {{ 7*7 }} *bold* _it_ ~s~ `code` [x](javascript:alert(1)) "
    "<!channel> @everyone & <https://evil.example|click here> |pipe| # head\r\nBcc: victim@example.com",
    "link": "javascript:alert(document.cookie)",
    "summary": "<img src=x onerror=alert(1)> &amp; </b> <a href='javascript:x'>y</a> " + "word & <b> " * 700,
    "published": "2026-02-17T18:55:33Z",
}
FEEDS = ["bbc-world-2026.xml", "bbc-urdu.xml", "qq-news-gb2312.xml"]


def corpus_story(name: str) -> dict:
    """The story with the longest summary in one corpus feed, as the pipeline stores it."""
    parsed = parse_feed(
        corpus_file(f"feeds/{name}").read_bytes(), feed_id=name, url=f"https://example.com/{name}"
    )
    story = max(parsed.stories, key=lambda s: (bool(s.link), len(s.summary)))
    return story.as_json() | {"source": parsed.title}


@pytest.fixture
def settings(env):
    return get_settings()


def size(channel: str, text: str) -> int:
    return len(text.encode()) if CHANNELS[channel].count_bytes else len(text)


class Tags(HTMLParser):
    """Every start tag with its attributes, whether each closed in order, and the text between."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=False)
        self.tags: list[tuple[str, dict]] = []
        self.open: list[str] = []
        self.balanced = True
        self.text = ""
        self.feed(text)
        self.close()

    def handle_data(self, data):
        self.text += data

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in ("br", "hr", "meta"):
            self.open.append(tag)

    def handle_endtag(self, tag):
        self.balanced = self.balanced and bool(self.open) and self.open.pop() == tag


def assert_well_formed(channel: str, rendered) -> None:
    body = rendered.body
    if channel in ("email", "telegram"):
        tags = Tags(body)
        allowed = {"b", "i", "a"} if channel == "telegram" else {"html", "body", "h2", "p", "a", "hr", "br"}
        assert {t for t, _ in tags.tags} <= allowed
        assert tags.balanced and not tags.open
        for tag, attrs in tags.tags:
            assert tag != "a" or re.match(r"https?://", attrs["href"])
            assert not any(name.startswith("on") for name in attrs)
        assert "<" not in tags.text and ">" not in tags.text
        assert not re.search(r"&(?!(?:amp|lt|gt|quot|#\d+);)", body), "a bare or cut entity"
    if channel in ("slack", "mattermost"):
        links = re.findall(r"<[^<>]*>", body)
        assert all(re.fullmatch(r"<https?://[^|<> ]+\|[^<>|]*>", link) for link in links), links
        assert "<" not in re.sub(r"<[^<>]*>", "", body) and ">" not in re.sub(r"<[^<>]*>", "", body)
        assert not re.search(r"&(?!(?:amp|lt|gt|#124);)", body)
    if channel in ("discord", "mattermost"):
        assert not re.search(r"@(everyone|here|channel|all)\b", body)
    if channel == "discord":
        assert all(re.match(r"<?https?://", target) for target in re.findall(r"\]\(([^)]*)\)", body))
    if channel == "json":
        json.loads(body)
    assert size(channel, body) <= CHANNELS[channel].body_limit
    assert "\r" not in rendered.title and "\n" not in rendered.title
    assert len(rendered.title) <= CHANNELS[channel].title_limit


# --- channels ----------------------------------------------------------------------------------


def channel_for(url: str) -> str:
    return render_for(url, {"title": "A story"}, [], get_settings()).channel


@pytest.mark.parametrize("channel", sorted(URLS))
def test_each_kind_of_url_gets_its_own_channel(channel):
    assert channel_for(URLS[channel]) == channel


def test_a_native_slack_webhook_url_is_slack_and_an_unknown_url_is_text():
    assert (
        channel_for("https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ")
        == "slack"
    )
    assert channel_for("nonsense://whatever") == "text"


@pytest.mark.parametrize("channel", sorted(URLS))
def test_a_rendering_shared_by_a_batch_is_what_each_reader_would_get_alone(settings, channel):
    story = corpus_story(FEEDS[0]) | {"id": "s1"}
    shared: dict = {}
    for token in ("0" * 32, "f" * 32, "0123456789abcdef" * 2):
        links = Links(  # each reader's own manage page and unsubscribe link, as links.py makes them
            manage_url=f"https://alerts.example.com/manage/{token[::-1]}",
            unsubscribe_url=f"https://alerts.example.com/unsubscribe/{token}",
        )
        alone = render_for(URLS[channel], story, [Topic("world", "world")], settings, links)
        assert (
            render_shared(shared, URLS[channel], story, [Topic("world", "world")], settings, links) == alone
        )
    assert len(shared) == (0 if channel == "ntfy" else 1)  # ntfy's parameters come from each URL


@pytest.mark.parametrize("feed", FEEDS)
@pytest.mark.parametrize("channel", sorted(URLS))
def test_a_real_story_is_well_formed_and_within_the_limits_of_every_channel(settings, channel, feed):
    story = corpus_story(feed)
    rendered = render_for(URLS[channel], story, [Topic("world", "world")], settings, LINKS)
    assert rendered.channel == channel
    assert_well_formed(channel, rendered)
    if channel not in ("push", "sms"):
        assert story["link"] in rendered.body.replace("&amp;", "&")


@pytest.mark.parametrize("channel", sorted(URLS))
def test_a_hostile_story_is_well_formed_escaped_and_within_limits_everywhere(settings, channel):
    rendered = render_for(URLS[channel], HOSTILE, ["world"], settings, LINKS)
    assert_well_formed(channel, rendered)
    everything = rendered.title + rendered.body
    assert "javascript:alert(document" not in everything  # the link is dropped, not linked
    assert "49" not in everything  # {{ 7*7 }} is text, never evaluated
    assert "{{ 7*7 }}" in everything or r"\{\{ 7\*7 \}\}" in everything
    if channel == "discord":
        assert r"\<script\>" in rendered.body and r"\<img" in rendered.body
    elif channel not in ("json", "push", "sms", "ntfy", "text"):
        assert "<script>" not in rendered.body and "<img" not in rendered.body


def test_markdown_specials_in_a_discord_title_are_escaped(settings):
    body = render_for(URLS["discord"], HOSTILE, [], settings).body
    first = body.splitlines()[0]
    assert r"\*bold\*" in first and r"\_it\_" in first and r"\[x\]\(javascript:alert\(1\)\)" in first
    assert "@\u200beveryone" in first


def test_slack_gets_mrkdwn_links_with_its_three_characters_escaped(settings):
    story = {"title": "Bonds & <stocks> fall", "link": "https://example.com/a?x=1&y=2", "summary": "a > b"}
    body = render_for(URLS["slack"], story, [], settings).body
    assert body.startswith("*<https://example.com/a?x=1&amp;y=2|Bonds &amp; &lt;stocks&gt; fall>*")
    assert "a &gt; b" in body


def test_slack_goes_in_block_mode_so_apprise_leaves_the_mrkdwn_alone(settings):
    rendered = render_for(URLS["slack"], HOSTILE, [], settings)
    plugin = apprise.Apprise.instantiate(rendered.url_for_apprise)
    assert plugin.use_blocks and plugin.channels == ["#news"]
    assert rendered.body_format is None  # passthrough: Apprise converts nothing


def test_telegram_uses_only_its_html_subset_and_puts_the_title_in_the_body(settings):
    story = {"title": "Bold <move> & more", "link": "https://example.com/x?a=1&b=2", "summary": "Text"}
    rendered = render_for(URLS["telegram"], story, ["markets"], settings, LINKS)
    assert rendered.title == ""
    assert rendered.body.startswith(
        '<b><a href="https://example.com/x?a=1&amp;b=2">Bold &lt;move&gt; &amp; more</a></b>'
    )
    assert "<i>markets</i>" in rendered.body


def test_the_email_subject_is_plain_text_without_line_breaks_and_cut_to_200(settings):
    story = HOSTILE | {"title": "Line one\r\nBcc: x@example.com " + "long " * 100}
    rendered = render_for(URLS["email"], story, [], settings, LINKS)
    assert "\n" not in rendered.title and "\r" not in rendered.title
    assert len(rendered.title) <= 200 and rendered.title.endswith("…")
    assert rendered.title.startswith("Line one Bcc: x@example.com long")


def test_push_cuts_title_and_body_at_a_word_boundary_with_an_ellipsis(settings):
    story = {
        "title": "Parliament votes on the emergency budget after a long night of talks in the capital",
        "link": None,
        "summary": "Members debated " + "the many amendments " * 30,
    }
    rendered = render_for(URLS["push"], story, [], settings)
    assert len(rendered.title) <= 65 and rendered.title.endswith("…")
    assert story["title"].startswith(rendered.title[:-1].rstrip())
    assert len(rendered.body) <= 240 and rendered.body.endswith("…")
    assert rendered.body[:-1].rstrip().endswith(("the", "many", "amendments"))


def test_sms_fits_title_and_link_into_160_characters(settings):
    story = {"title": "A very long headline " * 10, "link": "https://example.com/story/123", "summary": "x"}
    body = render_for(URLS["sms"], story, [], settings).body
    assert len(body) <= 160 and body.endswith("https://example.com/story/123")


def test_a_long_summary_full_of_ampersands_is_cut_before_it_is_escaped(settings):
    story = {"title": "Ampersands", "link": "https://example.com/", "summary": "&&& <<< " * 2000}
    for channel in ("telegram", "slack", "email", "mattermost"):
        rendered = render_for(URLS[channel], story, [], settings)
        assert_well_formed(channel, rendered)
        assert "…" in rendered.body or channel == "email"


def test_the_json_channel_sends_the_whole_story_as_a_compact_json_document(settings):
    story = {
        "id": "s1",
        "feed": "f1",
        "title": "T",
        "link": "https://example.com/",
        "summary": "S",
        "published": "2026-02-17T18:55:33Z",
        "source": "BBC News",
    }
    rendered = render_for(URLS["json"], story, ["world"], settings, LINKS)
    assert json.loads(rendered.body) == story | {
        "topics": ["world"],
        "manage_url": LINKS.manage_url,
        "unsubscribe_url": LINKS.unsubscribe_url,
    }
    assert '", "' not in rendered.body and '": ' not in rendered.body


def test_urgent_topics_give_ntfy_a_high_priority_tags_and_a_click_url(settings):
    story = {"title": "Quake", "link": "https://example.com/news/quake?id=7", "summary": "Strong quake."}
    rendered = render_for(
        URLS["ntfy"], story, [Topic("quakes", "quake", urgent=True), "asia pacific"], settings
    )
    plugin = apprise.Apprise.instantiate(rendered.url_for_apprise)
    assert plugin.priority == "high" and plugin.click == story["link"]
    assert "xtags=asia_pacific%2Cquakes%2Crotating_light&" in plugin.url(privacy=False)


def test_ntfy_parameters_already_in_the_subscribers_url_win(settings):
    url = URLS["ntfy"] + "?priority=min&tags=mine"
    rendered = render_for(url, HOSTILE, [Topic("quakes", "quake", urgent=True)], settings)
    plugin = apprise.Apprise.instantiate(rendered.url_for_apprise)
    assert plugin.priority == "min"
    assert "xtags=mine&" in plugin.url(privacy=False)


def test_only_http_and_https_links_with_a_host_are_ever_links():
    assert web_link(" https://example.com/a ") == "https://example.com/a"
    assert web_link("javascript:alert(1)") is None and web_link("data:text/html,x") is None
    assert web_link("http://[::1") is None and web_link("https:///nohost") is None


@pytest.mark.parametrize("link", ["https://example.com/caf%C3%A9", "https://example.com/a,b"])
def test_a_link_apprise_would_mangle_stays_out_of_the_ntfy_click_but_in_the_body(settings, link):
    rendered = render_for(URLS["ntfy"], {"title": "T", "link": link, "summary": "S"}, [], settings)
    assert apprise.Apprise.instantiate(rendered.url_for_apprise).click is None
    assert link in rendered.body


# --- cut ---------------------------------------------------------------------------------------


def test_cut_leaves_short_text_alone():
    assert cut("Short title", 65) == "Short title"


def test_cut_stops_at_a_word_boundary_and_adds_an_ellipsis():
    assert cut("The quick brown fox jumps over the lazy dog", 20) == "The quick brown fox…"


def test_cut_cuts_text_without_spaces_where_it_must():
    cjk = "中华人民共和国国务院总理今天在北京会见了来访的外国代表团"
    assert cut(cjk, 10) == cjk[:9] + "…"


@pytest.mark.parametrize("limit", [0, 1, 2, 5, 17, 64, 65, 239, 240])
def test_cut_never_goes_over_the_limit(limit):
    text = "word, another; and-more " * 20
    assert len(cut(text, limit)) <= limit


# --- real sends --------------------------------------------------------------------------------


def send(url: str, story: dict, settings, topics=(), links=None) -> None:
    """One alert through the Apprise channel, rendered for its URL."""
    via_apprise.send_via_apprise(url, render_for(url, story, list(topics), settings, links), True)


def test_an_email_arrives_with_html_and_plain_parts_and_one_click_unsubscribe_headers(settings, r):
    story = corpus_story("bbc-world-2026.xml") | {"title": HOSTILE["title"]}
    with SmtpSink() as smtp:
        url = smtp.url()
        store.add_subscriber(r, Subscriber("ann", (url,), ("world",)))
        assert send_for_row(r, settings, "ann", url, story) is None
    [message] = smtp.messages
    unsubscribe = links_many(r, settings, [("ann", url)])[("ann", url)].unsubscribe_url
    assert message["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "\n" not in message["Subject"] and message["Subject"].startswith(
        "<script>alert(1)</script> {{ 7*7 }}"
    )
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert story["link"] in plain and unsubscribe in plain
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert f'href="{story["link"].replace("&", "&amp;")}"' in html


def test_a_json_webhook_receives_the_story_as_json(settings):
    story = {"id": "s9", "title": "Storm <warning>", "link": "https://example.com/s9", "summary": "Rain."}
    with HttpSink() as sink:
        send(sink.url("/hook"), story, settings)
    [payload] = sink.json_bodies("/hook")
    assert payload["title"] == "Storm <warning>"
    document = json.loads(payload["message"])
    assert document["id"] == "s9" and document["link"] == "https://example.com/s9"
    assert document["unsubscribe_url"] is None  # no subscriber, no unsubscribe link


def test_a_mattermost_webhook_receives_mrkdwn_text_with_the_title_in_it(settings):
    with HttpSink() as sink:
        url = f"mmost://127.0.0.1:{sink.port}/abcdefghijklmnop"
        send(url, HOSTILE | {"link": "https://example.com/a|b"}, settings)
    [request] = sink.requests
    assert request["path"] == "/hooks/abcdefghijklmnop"
    text = json.loads(request["body"])["text"]
    assert text.startswith(r"**<https://example.com/a%7Cb|\&lt;script\&gt;".replace("\\&", "&"))
    assert "@\u200beveryone" in text and "<script>" not in text


def test_an_ntfy_server_receives_title_message_click_priority_and_tags(settings):
    story = {
        "title": "Quake hits coast",
        "link": "https://example.com/news/quake%20live?id=7",
        "summary": "Strong quake.",
    }
    topics = [Topic("quakes", "quake", urgent=True)]
    with HttpSink() as sink:
        url = f"ntfy://127.0.0.1:{sink.port}/alerts"
        send(url, story, settings, topics, LINKS)
    [request] = sink.requests
    assert request["path"] == "/"
    assert json.loads(request["body"]) == {
        "topic": "alerts",
        "title": "Quake hits coast",
        "message": f"Strong quake.\n\nhttps://example.com/news/quake%20live?id=7\n\nTopics: quakes\n"
        f"Unsubscribe: {LINKS.unsubscribe_url}",
    }
    headers = request["headers"]
    assert headers["X-Click"] == story["link"]
    assert headers["X-Priority"] == "high" and set(headers["X-Tags"].split(",")) == {
        "rotating_light",
        "quakes",
    }


def test_a_plain_form_webhook_gets_the_text_channel(settings):
    with HttpSink() as sink:
        send(f"form://127.0.0.1:{sink.port}/f", {"title": "Hi & bye", "summary": "S"}, settings)
    [request] = sink.requests
    assert b"title=Hi+%26+bye" in request["body"] and b"message=S" in request["body"]


# --- operator templates and the sandbox --------------------------------------------------------


def override(settings, name: str, text: str) -> Path:
    path = Path(settings.data_dir) / "templates" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_an_operator_template_replaces_the_built_in_one_for_its_channel_only(settings):
    override(settings, "slack.mrkdwn", "OURS {{ story.title }} <{{ story.link | url }}|read>")
    story = {"title": "A <b> & c", "link": "https://example.com/x y", "summary": ""}
    assert (
        render_for(URLS["slack"], story, [], settings).body
        == "OURS A &lt;b&gt; &amp; c <https://example.com/x%20y|read>"
    )
    assert render_for(URLS["discord"], story, [], settings).body.startswith("**[A \\<b\\> & c]")


def test_a_broken_operator_template_falls_back_with_a_one_line_warning(settings, caplog):
    override(settings, "telegram.html", "{% if %}broken")
    with caplog.at_level(logging.WARNING, logger="notifier.alerts.templating"):
        first = render_for(URLS["telegram"], HOSTILE, [], settings).body
        second = render_for(URLS["telegram"], HOSTILE, [], settings).body
    assert first == second and first.startswith("<b>&lt;script&gt;")
    [record] = [rec for rec in caplog.records if rec.name == "notifier.alerts.templating"]
    assert "telegram.html" in record.getMessage() and "\n" not in record.getMessage()


def test_an_operator_template_with_a_misspelt_field_falls_back(settings, caplog):
    override(settings, "push.txt", "{{ story.titel }}")
    assert render_for(URLS["push"], HOSTILE, [], settings).body.startswith("<img src=x")
    assert "UndefinedError" in caplog.text


@pytest.mark.parametrize(
    "expression",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ story.__init__.__globals__ }}",
        "{{ story.items.__self__.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ 'x' * 100000000 }}",
        "{{ 9 ** 999999 }}",
        "{{ lipsum.__globals__ }}",
        "{{ story.update(title='changed') }}",
    ],
)
def test_a_template_cannot_reach_python_internals(settings, expression):
    with pytest.raises((SecurityError, UndefinedError)):
        sandbox(str(settings.data_dir)).from_string(expression).render(story={"title": "t"})
    override(settings, "text.txt", expression)
    body = render_for(URLS["text"], HOSTILE, [], settings).body
    assert "class" not in body and "xxxxx" not in body and "changed" not in body


@pytest.mark.parametrize(
    "template",
    [
        "{% include '/etc/passwd' %}",
        "{% include '../../../../../../etc/passwd' %}",
        "{% extends '/etc/hostname' %}",
        "{% import '/proc/self/environ' as env %}",
    ],
)
def test_an_operator_template_cannot_read_files(settings, template):
    override(settings, "text.txt", template)
    body = render_for(URLS["text"], HOSTILE, [], settings).body
    assert "root:" not in body and body.startswith("<img src=x")
