"""The feed side: from a feed URL to the stories in it.

fetch (our own HTTP: conditional GET, caps, every redirect hop guarded), batch (a batch of
fetches on the process loop), parse (feedparser on bytes -> Story), poll (take in a poll's
result: record success or error, parse only what changed), cadence (when to poll next),
intake (claim a parsed feed's stories, for a poll and a WebSub push alike), websub and
websub_callback (hubs push to us), opml (import and export feed lists).
"""
