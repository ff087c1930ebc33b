"""The one place that reads the environment. A bad value stops the start with one line."""

from __future__ import annotations

import ipaddress
import socket
from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(Exception):
    """A setting has a value we cannot run with; the message names it."""


BROKER_SCHEMES = ("redis://", "rediss://", "amqp://", "amqps://", "pyamqp://")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_prefix="NOTIFIER_")

    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    data_dir: Path = Path("./.notifier")
    allow_private_hosts: bool = False
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    min_interval: int = Field(default=60, ge=1)
    max_interval: int = Field(default=3600, ge=1)
    default_interval: int = Field(default=300, ge=1)
    public_url: str | None = None
    admin_token: str | None = None
    log_level: str = "INFO"
    log_format: str = "text"  # json: one object per line, for log shippers
    # The Celery broker; unset: the same Redis as REDIS_URL. Redis stays the store either way.
    broker_url: str | None = None
    # The queue fan-out tasks go to: `deliver` by default; a queue of its own lets a node (or the
    # fan-out benchmark) run fan-out workers apart from the senders, for very large audiences.
    fanout_queue: str = Field(default="deliver", min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    # Names this machine's workers (`tick@NODE`): two nodes must not share one. Default: hostname.
    node_name: str = Field(default_factory=socket.gethostname, min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    # Fetch limits: a hostile feed can cost us at most this much.
    fetch_connect_timeout: float = Field(default=10.0, gt=0)
    fetch_read_timeout: float = Field(default=20.0, gt=0)
    fetch_total_timeout: float = Field(default=30.0, gt=0)
    fetch_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    fetch_concurrency: int = Field(default=50, ge=1)
    fetch_per_host: int = Field(default=4, ge=1)
    # De-duplication memory.
    story_ttl: int = Field(default=30 * 24 * 3600, ge=60)
    title_ttl: int = Field(default=48 * 3600, ge=60)
    # Same-event clusters: stories published this far apart can be one event; their index expires with it.
    cluster_window: int = Field(default=48 * 3600, ge=3600)
    # Delivery.
    delivery_max_attempts: int = Field(default=6, ge=1)
    delivery_max_age: int = Field(default=6 * 3600, ge=5)  # tests wait out an outage in seconds
    retry_base_delay: float = Field(default=5.0, gt=0)
    lease_seconds: int = Field(default=120, ge=2)
    visibility_timeout: int = Field(default=600, ge=5)
    # A worker told to stop (SIGTERM) waits this long for the sends it has in flight and their
    # outcomes, so a deploy sends nothing twice; under docker's 10 s stop timeout, with room for
    # Celery's own shutdown. `notifier run` kills a child that takes 2 s more than this.
    stop_grace: float = Field(default=6.0, ge=0)
    # Feed health: a feed failing this many times in a row, over at least this long, is disabled.
    disable_after_errors: int = Field(default=10, ge=1)
    disable_after_seconds: int = Field(default=24 * 3600, ge=0)
    # Apprise URLs (comma or space separated) that hear about disabled feeds and failing URLs.
    operator_urls: str = ""
    # Readers' self-service (notifier.api): where confirmation mails and readers' alerts leave
    # from (an Apprise mailto:// URL without `to=`; unset: no e-mail sign-up), the VAPID contact
    # push services may write to (mailto: or https:), the ntfy server a bare topic name means,
    # and the reverse proxies whose X-Forwarded-For is believed (addresses or networks).
    mail_url: str | None = None
    vapid_contact: str | None = Field(default=None, pattern=r"^(mailto:\S+@\S+|https://\S+)$")
    ntfy_server: str = Field(default="https://ntfy.sh", pattern=r"^https?://[^/?#\s]+/?$")
    trusted_proxies: str = ""

    @property
    def operator_targets(self) -> list[str]:
        return [u for u in self.operator_urls.replace(",", " ").split() if u]

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for part in value.replace(",", " ").split():
            ipaddress.ip_network(part, strict=False)  # ValueError names the bad entry
        return value

    @property
    def proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(p, strict=False) for p in self.trusted_proxies.replace(",", " ").split()]

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("log_format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value.lower() not in {"text", "json"}:
            raise ValueError("must be text or json")
        return value.lower()

    @field_validator("broker_url")
    @classmethod
    def _broker_scheme(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(BROKER_SCHEMES):
            raise ValueError(f"must start with one of {', '.join(BROKER_SCHEMES)}")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.api_host}:{self.api_port}").rstrip("/")


def _env_name(loc: tuple) -> str:
    field = str(loc[0]) if loc else "?"
    return "REDIS_URL" if field == "redis_url" else f"NOTIFIER_{field.upper()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        raise SettingsError(f"invalid setting {_env_name(first['loc'])}: {first['msg']}") from None
