"""email_message writes each e-mail's text itself: it must be, byte for byte, what the email
package writes for the same message (the way Apprise builds it, kept below only for this test).

Every case builds one alert both ways, with the boundary, Date and Message-ID ours picked, and
compares the two texts; a few are also read back with the email parser. The inputs cover
non-ASCII subjects and names (Hebrew, Chinese, emoji), long subjects and lines, HTML and text,
the thread's headers, attempted header injection, and a seeded run of random strings.
"""

from __future__ import annotations

import email
import email.policy
import random
import re
from datetime import datetime
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr
from urllib.parse import quote

import pytest
from apprise.common import NotifyFormat
from apprise.conversion import convert_between

from notifier.alerts.channels import email_message
from notifier.alerts.channels.base import Message
from notifier.alerts.channels.pooled import Job, _message
from notifier.alerts.render import Links, render_for
from notifier.settings import Settings

BASE = "mailto://user:pw@localhost:2525?smtp=127.0.0.1&mode=insecure"


def through_email_package(message: Message, boundary: str, date: str, message_id: str) -> str:
    """The pooled sender's former build: Apprise's `prepare_emails` for one recipient, through
    email.mime, with the boundary, Date and Message-ID given instead of picked."""
    plugin, body = message.plugin, message.body
    if message.body_format == NotifyFormat.HTML:
        mime = MIMEMultipart("alternative", boundary=boundary)
        plain = convert_between(NotifyFormat.HTML, NotifyFormat.TEXT, body)
        mime.attach(MIMEText(plain, "plain", "utf-8"))
        mime.attach(MIMEText(body, "html", "utf-8"))
    else:
        mime = MIMEText(body, "plain", "utf-8")
    for name, value in email_message._headers(plugin, message.headers).items():
        mime[name] = Header(value, None if value.isascii() else "utf-8")
    subject = " ".join(message.title.split())
    mime["Subject"] = Header(subject, None if subject.isascii() else "utf-8")
    mime["From"] = formataddr(tuple(plugin.from_addr), charset="utf-8")
    mime["To"] = formataddr(plugin.targets[0], charset="utf-8")
    mime["Message-ID"] = message_id
    mime["Date"] = date
    return mime.as_string()


def both_ways(message: Message) -> tuple[str, str]:
    ours = email_message.build(message)
    head = ours.split("\n\n", 1)[0]
    boundary = re.search(r'boundary="([^"]+)"', head)
    date = re.search(r"^Date: (.*)$", head, re.M)[1]
    message_id = message.headers.get("Message-ID") or re.search(r"^Message-ID: (.*)$", head, re.M)[1]
    theirs = through_email_package(message, boundary[1] if boundary else None, date, message_id)
    return ours, theirs


def message(title: str, body: str, body_format: str = "html", url: str = BASE, **headers) -> Message:
    url = url if "to=" in url else f"{url}&from=alerts@example.com&to=reader@example.com"
    made = _message(Job(url, title, body, body_format, headers))
    assert isinstance(made, Message), made
    return made


HEBREW, CHINESE, EMOJI = "רעידת אדמה חזקה בחוף", "沿海发生强烈地震", "🌊🚨 Quake 🇯🇵"
TITLES = [
    "Quake hits the coast",
    HEBREW,
    CHINESE,
    EMOJI,
    f"Séisme: {HEBREW} / {CHINESE} {EMOJI}",
    "A very long subject " * 40,
    f"{CHINESE} " * 60,
    "Tabs\tand\r\nnew lines\nBcc: victim@example.com",
    '=?utf-8?q?looks_encoded?= and _under_scores_ = ? "quoted" (parens) <angle> ;,',
    "",
    "x",
    "   edges   ",
    "\u2028line separator\x85next line\x0bvertical tab\x0cform feed",
    "control \x01\x7f chars",
]
BODIES = [
    ("<p>Hello</p>", "html"),
    ("<p></p>", "html"),  # a plain-text copy with nothing in it
    (f"<p>{HEBREW}</p><p>{CHINESE} {EMOJI}</p>", "html"),
    ("<p>" + "long line with = signs and spaces " * 30 + "</p>", "html"),
    ("<p>trailing spaces   \n.dot line\nFrom the start\r\nCRLF\rCR only</p>", "html"),
    ("Just text", "text"),
    (f"{HEBREW}\n{CHINESE}\n{EMOJI}\n" + "é" * 200, "text"),
    ("line ending in a space \nline ending in a tab\t\n" + "=" * 100, "text"),
    ("x" * 75 + " \n" + "y" * 74 + "\t\n" + "z" * 76 + "=", "text"),
]


@pytest.mark.parametrize("title", TITLES)
@pytest.mark.parametrize(("body", "body_format"), BODIES)
def test_every_subject_and_body_is_written_as_the_email_package_writes_it(title, body, body_format):
    ours, theirs = both_ways(message(title, body, body_format))
    assert ours == theirs


def test_a_rendered_alert_with_unsubscribe_manage_and_thread_headers_is_unchanged():
    url = f"{BASE}&from=alerts@example.com&to=reader@example.com"
    story = {
        "id": "s1",
        "title": f"{HEBREW} — {CHINESE} {EMOJI}",
        "link": "https://news.example.com/quake?id=1&src=rss",
        "summary": f"A strong earthquake struck.\n{HEBREW}\n{CHINESE}",
        "source": "Example News",
    }
    for n in range(3):  # each reader's own tokens in one story's HTML: its plain text is shared
        links = Links(f"https://a.example.com/manage/{n:032x}", f"https://a.example.com/unsubscribe/{n:032d}")
        rendered = render_for(url, story, ["quakes", "日本"], Settings(), links)
        thread = {"In-Reply-To": "<parent.notifier@127.0.0.1>", "References": "<parent.notifier@127.0.0.1>"}
        job = Job.for_rendered(rendered, url)
        job.headers.update({"Message-ID": f"<d{n}.notifier@127.0.0.1>", **thread})
        ours, theirs = both_ways(_message(job))
        assert ours == theirs
        parsed = email.message_from_string(ours, policy=email.policy.default)
        assert parsed["In-Reply-To"] == parsed["References"] == "<parent.notifier@127.0.0.1>"
        assert parsed["Message-ID"] == f"<d{n}.notifier@127.0.0.1>"
        assert parsed["List-Unsubscribe"] == f"<https://a.example.com/unsubscribe/{n:032d}>"
        plain = parsed.get_payload()[0].get_content()
        assert f"/unsubscribe/{n:032d}" in plain and f"/manage/{n:032x}" in plain


@pytest.mark.parametrize(
    "sender",
    [
        "alerts@example.com",
        quote("Ann Ärger <alerts@example.com>"),
        quote(f"{HEBREW} <alerts@example.com>"),
        quote('News, "Desk" (Intl) <alerts@example.com>'),
    ],
)
def test_sender_names_and_url_headers_are_written_as_the_email_package_writes_them(sender):
    url = f"{BASE}&from={sender}&to=reader@example.com&+X-Desk={quote(CHINESE)}&+X-Plain=on%20call"
    ours, theirs = both_ways(message(EMOJI, "<p>Hi</p>", url=url, **{"List-Unsubscribe": "<https://x>"}))
    assert ours == theirs
    assert "X-Desk: =?utf-8?q?" in ours and "X-Plain: on call\n" in ours


def test_an_injected_header_stays_inside_the_value_it_was_given_in():
    injected = {"List-Unsubscribe": "<https://x>\r\nBcc: victim@example.com", "X-Note": "a\nb"}
    injected["Message-ID"] = "<id@x>\n Bcc: victim@example.com"  # ours, but written as the package would
    ours, theirs = both_ways(message("t\r\nBcc: victim@example.com", "<p>Hi</p>", **injected))
    assert ours == theirs
    parsed = email.message_from_string(ours, policy=email.policy.default)
    assert parsed["Bcc"] is None and parsed["Subject"] == "t Bcc: victim@example.com"


def test_a_message_without_an_id_of_ours_gets_one_from_the_smtp_host():
    ours, theirs = both_ways(message("t", "b", "text"))
    assert ours == theirs and re.search(r"^Message-ID: <[0-9.]+@127\.0\.0\.1>$", ours, re.M)


def test_the_date_is_now_in_the_urls_time_zone():
    ours = email_message.build(message("t", "b", "text"))
    sent = email.message_from_string(ours, policy=email.policy.default)["Date"].datetime
    assert abs((datetime.now(tz=sent.tzinfo) - sent).total_seconds()) < 60


ALPHABET = "abcXYZ019 .,;:=?_-\"'()<>@[]\\/\t\r\n\x00\x1b\x7f\x85\u2028é—·ßשלום你好世界🌊🚨\u200d=?utf-8?q?"


def random_text(rng: random.Random, longest: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(longest)))


def test_random_subjects_bodies_and_header_values_are_written_as_the_email_package_writes_them():
    rng = random.Random(20261130)
    for _ in range(300):
        headers = {"List-Unsubscribe": random_text(rng, 40), "In-Reply-To": random_text(rng, 20)}
        body = random_text(rng, 400) or "x"
        made = message(random_text(rng, 120), body, rng.choice(["html", "text"]), **headers)
        ours, theirs = both_ways(made)
        assert ours == theirs, (made.title, made.body, headers)


def test_what_is_written_reads_back_as_the_subject_and_bodies_that_were_given():
    rng = random.Random(7)
    for _ in range(50):
        title, body = random_text(rng, 80), random_text(rng, 300).strip() or "x"
        made = message(title, body, "text")
        parsed = email.message_from_string(email_message.build(made), policy=email.policy.default)
        assert parsed["Subject"] == " ".join(title.split())
        assert parsed.get_content() == re.sub(r"\r\n|\r", "\n", made.body)
