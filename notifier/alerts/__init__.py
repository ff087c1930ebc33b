"""The alert side: from a new story to a message in a reader's inbox or chat, exactly once.

fanout (match a story to subscribers; one ledger row per notification URL), same_event (one
alert per event, updates for who asked), ledger (every alert's state, claimed by compare-and-set),
dispatch (the send loop: triage, pace, claim, retry, disable), pacing (token buckets per
destination, shared by every worker), sending (render and send a batch), render + templating +
templates/ (one story made right for each channel; apprise_params its URL parameters),
follow_ups (how an update shows what it follows on each channel), explain (why alerts went out
as they did, for `story show`), links (unsubscribe tokens), notices (telling people about
trouble), channels/ (how a message leaves: Apprise, and pooled webhook and SMTP senders).
"""
