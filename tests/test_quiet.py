"""Quiet hours and digests, in the subscriber's own time zone."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from notifier.stories.quiet import QuietError, release_time, validate

PARIS = ZoneInfo("Europe/Paris")


def at(text: str, tz=PARIS) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def local(ts: float, tz=PARIS) -> str:
    return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M")


def test_outside_quiet_hours_an_alert_goes_at_once():
    assert release_time(at("2026-11-25 14:00"), quiet="22:00-07:00", tz="Europe/Paris", digest=None) is None


def test_in_quiet_hours_past_midnight_it_waits_for_the_morning():
    held = release_time(at("2026-11-25 23:30"), quiet="22:00-07:00", tz="Europe/Paris", digest=None)
    assert local(held) == "2026-11-26 07:00"
    early = release_time(at("2026-11-26 03:10"), quiet="22:00-07:00", tz="Europe/Paris", digest=None)
    assert local(early) == "2026-11-26 07:00"


def test_quiet_hours_follow_the_subscriber_s_zone_not_the_server_s():
    # 23:30 in Paris is 07:30 in Tokyo: quiet for the Parisian, not for the reader in Tokyo
    now = at("2026-11-25 23:30")
    assert release_time(now, quiet="22:00-07:00", tz="Asia/Tokyo", digest=None) is None


def test_an_urgent_story_passes_quiet_hours_only_if_the_subscriber_allows_it():
    now = at("2026-11-25 23:30")
    kwargs = {"quiet": "22:00-07:00", "tz": "Europe/Paris", "digest": None, "urgent": True}
    assert release_time(now, urgent_passes=True, **kwargs) is None
    assert release_time(now, urgent_passes=False, **kwargs) is not None


def test_an_hourly_digest_is_sent_at_the_top_of_the_next_hour():
    assert (
        local(release_time(at("2026-11-25 14:20"), quiet=None, tz="Europe/Paris", digest="hourly"))
        == "2026-11-25 15:00"
    )


def test_a_daily_digest_is_sent_at_its_hour_and_never_in_quiet_hours():
    daily = release_time(
        at("2026-11-25 09:00"), quiet=None, tz="Europe/Paris", digest="daily", digest_at="08:00"
    )
    assert local(daily) == "2026-11-26 08:00"
    hourly_at_night = release_time(
        at("2026-11-25 23:20"), quiet="22:00-07:00", tz="Europe/Paris", digest="hourly"
    )
    assert local(hourly_at_night) == "2026-11-26 07:00"


def test_daylight_saving_changes_keep_local_times():
    # the night Paris moves from CEST to CET (2026-10-25)
    held = release_time(at("2026-10-25 01:30"), quiet="22:00-07:00", tz="Europe/Paris", digest=None)
    assert local(held) == "2026-10-25 07:00"


@pytest.mark.parametrize(
    "quiet, tz, digest, digest_at",
    [
        ("22-07", "UTC", None, "08:00"),
        ("22:00-22:00", "UTC", None, "08:00"),
        (None, "Mars/Olympus", None, "08:00"),
        (None, "UTC", "weekly", "08:00"),
        (None, "UTC", "daily", "8am"),
    ],
)
def test_settings_we_cannot_honour_are_refused_with_a_clear_message(quiet, tz, digest, digest_at):
    with pytest.raises(QuietError):
        validate(quiet, tz, digest, digest_at)
