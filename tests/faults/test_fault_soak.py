"""The soak, short (issue 11; `make soak` runs it for ten minutes on 1,000 feeds): two workers,
two beats and a `notifier run` node restarted at random, SIGKILL and SIGTERM mixed, while 100
feeds change; counted from the webhook and SMTP sinks, every story reaches every matching URL,
and any second copy carries the identity of the first."""

from __future__ import annotations

import json

import pytest

from tests.faults.harness import report
from tests.faults.soak import Soak, run_soak
from tests.faults.soak.count import table
from tests.faults.soak.world import KEYWORDS, Newsroom
from tests.feedserver import FeedServer


def test_the_soaks_stories_share_no_clustering_term_but_their_keywords():
    """A story made the same event as another by accident is not alerted: the soak counted it lost."""
    from notifier.stories.terms import terms_of

    with FeedServer() as server:
        news = Newsroom(server, 2000)
        titles = [items[0].title for items in news.items.values()]
        titles += [news.publish().title for _ in range(5000)]
    keywords = {term for k in KEYWORDS for term in terms_of(k, "").title}
    made_up = [t for title in titles for t in terms_of(title, "").title if t not in keywords]
    assert len(made_up) == 4 * len(titles) == len(set(made_up))


@pytest.mark.e2e
@pytest.mark.timeout(900)
def test_a_short_soak_loses_nothing_and_repeats_only_with_the_same_identity(tmp_path):
    soak = Soak(tmp_path, seconds=45, feeds=100, interval=3, stories_per_second=1.0, chaos_gaps=(2.0, 5.0))
    summary = run_soak(soak)
    sinks = summary["sinks"]
    print("\n" + table(summary) + "\n" + json.dumps(summary))
    report("short soak", lost=sinks["lost"], duplicated=sinks["duplicated_same_identity"])
    run = summary["run"]  # `python -m tests.faults.soak --seed SEED` makes its choices again
    assert sinks["stories"] > 0 and sinks["expected_alerts"] > 0 and run["sigkill"] and run["sigterm"], run
    assert sinks["lost"] == 0, sinks["examples"]["lost"]
    assert sinks["duplicated_different_identity"] == 0, sinks["examples"]["different_identity"]
    assert sinks["unexpected"] == 0, sinks["examples"]["unexpected"]
    assert run["left_processes_behind"] == 0, run  # a stopped part took all its processes with it
