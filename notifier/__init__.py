"""notifier: breaking-news alerts from feeds to subscribers, exactly once."""

__version__ = "0.1.0"
