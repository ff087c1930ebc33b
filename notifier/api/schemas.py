"""What the HTTP API takes and gives: pydantic models, so validation and /docs come from one place.

Responses reuse the CLI's JSON shapes (notifier.stories.views); these models describe them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

Name = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FeedIn(Strict):
    url: str = Field(min_length=1, max_length=2000, description="An http(s) feed URL.")
    interval: int | None = Field(default=None, ge=1, le=86400 * 7, description="Fixed poll interval (s).")
    name: str | None = Field(default=None, min_length=1, max_length=200)


class Feed(BaseModel):
    id: str
    url: str
    name: str
    enabled: bool
    interval: int
    forced: bool
    adaptive_interval: float | None
    errors: int
    last_success: str | None
    last_error: str | None
    last_error_kind: str | None
    next_poll: str | None
    interval_reason: str


class TopicIn(Strict):
    name: str = Name
    match: str = Field(min_length=1, max_length=2000, description='Words, "phrases", AND, OR, NOT, ( ).')
    urgent: bool = False
    min_sources: int = Field(default=1, ge=1, description="Alert only once this many outlets carry it.")
    urgent_sources: int = Field(default=0, ge=0, description="Urgent from this many outlets in 10 min.")


class TopicChange(Strict):
    match: str = Field(min_length=1, max_length=2000)
    urgent: bool = False
    min_sources: int = Field(default=1, ge=1)
    urgent_sources: int = Field(default=0, ge=0)


class Topic(BaseModel):
    name: str
    match: str
    urgent: bool
    min_sources: int = 1
    urgent_sources: int = 0


class SubscriberIn(Strict):
    name: str = Name
    notify: list[str] = Field(min_length=1, max_length=50, description="Apprise URLs.")
    topics: list[str] = Field(min_length=1, max_length=200)
    quiet: str | None = Field(default=None, max_length=20, description="e.g. 22:00-07:00")
    tz: str = Field(default="UTC", max_length=64)
    digest: str | None = Field(default=None, description="hourly or daily")
    digest_at: str = Field(default="08:00", max_length=5)
    urgent_passes: bool = False


class SubscriberChange(Strict):
    add_notify: list[str] = Field(default=[], max_length=50)
    remove_notify: list[str] = Field(default=[], max_length=50)
    add_topics: list[str] = Field(default=[], max_length=200)
    remove_topics: list[str] = Field(default=[], max_length=200)


class Subscriber(BaseModel):
    name: str
    notify: list[str] = Field(description="Scheme and host only: the rest of a URL is secret.")
    disabled: list[str]
    topics: list[str]
    quiet: str | None
    tz: str
    digest: str | None
    urgent_passes: bool


class Story(BaseModel):
    id: str
    feed_id: str | None
    title: str | None
    link: str | None
    published: str | None
    summary: str
    guid: str | None
    cluster: str
    cluster_size: int


class StoryDetail(Story):
    sources: list[str]
    matched: dict[str, str]
    deliveries: list[dict]
    event: dict | None = None  # its same-event cluster: outlets, how fast, members
    why_silent: dict[str, str] = {}
    outlets: int = 1
    urgent: dict[str, str] = {}  # topic -> why it called the story urgent
    held_back: dict[str, str] = {}  # topic -> "needs N outlets, has M" (--min-sources)
    updates: dict[str, str] = {}  # delivery -> the earlier alert it follows up


class Delivery(BaseModel):
    id: str
    story: str
    subscriber: str
    url_hash: str
    target: str
    state: str
    attempts: int
    last_error: str | None
    created: float
    updated: float
    next_at: float | None


class Status(BaseModel):
    feeds: list[Feed]
    queues: dict[str, int | None]  # None: the broker did not answer
    deliveries: dict[str, int]
    deliveries_waiting: int
    stories_waiting: int
    failing_urls: dict[str, int]


# --- readers -----------------------------------------------------------------------------------


class SignupIn(Strict):
    email: str = Field(min_length=3, max_length=254)
    topics: list[str] = Field(min_length=1, max_length=200)


class PushKeys(BaseModel):
    p256dh: str = Field(min_length=1, max_length=200)
    auth: str = Field(min_length=1, max_length=100)


class PushKeysOnly(BaseModel):
    """A browser's PushSubscription.toJSON()."""

    endpoint: str = Field(min_length=1, max_length=2000)
    keys: PushKeys


class PushSubscriptionIn(PushKeysOnly):
    """A browser's PushSubscription.toJSON(), plus the topics chosen on the page."""

    topics: list[str] = Field(min_length=1, max_length=200)


class Subscribed(BaseModel):
    token: str = Field(description="The reader's manage token: keep it, it is their only key.")
    manage_url: str
    channel: str = Field(description="The id of this browser's channel, to stop it later.")


class Accepted(BaseModel):
    status: str


class Channel(BaseModel):
    id: str
    kind: str
    target: str
    active: bool


class Reader(BaseModel):
    topics: list[str]
    quiet: str | None
    tz: str
    digest: str | None
    channels: list[Channel]
    manage_url: str


class TopicsIn(Strict):
    topics: list[str] = Field(min_length=1, max_length=200)


class ScheduleIn(Strict):
    quiet: str | None = Field(default=None, max_length=20, description="e.g. 22:00-07:00; null: none")
    tz: str = Field(default="UTC", max_length=64)
    digest: str | None = Field(default=None, description="hourly, daily or null")


class ChannelIn(Strict):
    kind: str = Field(description="ntfy, slack, discord, telegram or matrix")
    value: str = Field(min_length=1, max_length=2000, description="An ntfy topic, or the service's URL.")


class WireStory(BaseModel):
    id: str
    title: str
    link: str | None
    source: str
    topics: list[str] = Field(description="The topics it matched when it was fanned out.")
    time: str = Field(description="Published, or first seen when the feed gave no date (UTC).")


class Wire(BaseModel):
    stories: list[WireStory]
    topics: list[str]
