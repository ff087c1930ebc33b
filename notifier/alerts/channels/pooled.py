"""A pooled fast path for the two high-volume channels, with the same observable result as Apprise.

Apprise builds a new HTTP session, SMTP connection and SSL context for every message (LIMITS.md:
14-21x below the raw clients). For `json://`/`jsons://` webhooks and `mailto://`/`mailtos://`
e-mail we send ourselves over pooled connections (fastpath_http, fastpath_smtp), but read every
setting from the plugin object Apprise parses from the URL, so the URL means what it means to
Apprise. A URL using a feature we do not reproduce exactly is not `supports()`ed: Apprise sends it.

    if all(pooled.supports(job.url) for job in jobs):
        errors = pooled.send_batch(jobs, allow_private=settings.allow_private_hosts)
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from apprise.common import OverflowMode
from apprise.conversion import convert_between
from apprise.plugins.base import NotifyBase
from apprise.plugins.custom_json import NotifyJSON
from apprise.plugins.email import NotifyEmail

from notifier.alerts.channels import email_message, smtp, webhook
from notifier.alerts.channels.base import DeliveryError, Message, failed, plugin_for
from notifier.alerts.render import Rendered
from notifier.core import netguard
from notifier.core.drain import Countdown
from notifier.core.lanes import SerialLanes
from notifier.core.redact import redact, remember_secrets

__all__ = ["Job", "failed", "send_batch", "stalled", "submit", "supports"]

SMTP_LANES = SerialLanes("notifier-smtp")  # one thread, and so one connection per account, per server

SCHEMES = {"json": NotifyJSON, "jsons": NotifyJSON, "mailto": NotifyEmail, "mailtos": NotifyEmail}


@dataclass(frozen=True)
class Job:
    """One message to one URL: `notifier.render.Rendered`'s fields (headers are e-mail headers)."""

    url: str
    title: str
    body: str
    body_format: str | None
    headers: dict

    @classmethod
    def for_rendered(cls, rendered: Rendered, url: str) -> Job:
        """The job that sends `rendered` to the subscriber's `url`.

        E-mail carries its unsubscribe link in headers, so it is sent to the subscriber's own URL
        (one parse per URL stays cached); other channels take their parameters in the URL.
        """
        target = url if rendered.channel == "email" else rendered.url_for_apprise
        return cls(target, rendered.title, rendered.body, rendered.body_format, dict(rendered.headers or {}))


@lru_cache(maxsize=2048)  # asked about each alert's URL three times (stalled, routing, sending)
def supports(url: str) -> bool:
    """True when the fast path sends this URL exactly as Apprise would; else leave it to Apprise."""
    kind = SCHEMES.get(urlsplit(url).scheme.lower())
    plugin = plugin_for(url) if kind else None
    if plugin is None or type(plugin) is not kind or not _plain_send(plugin):
        return False
    return webhook.supports(plugin) if kind is NotifyJSON else email_message.supports(plugin)


def _plain_send(plugin: NotifyBase) -> bool:
    """Apprise would pass the title and body through untouched: no splitting, emojis or escapes."""
    return bool(
        plugin.enabled
        and plugin.overflow_mode == OverflowMode.UPSTREAM
        and plugin.title_maxlen > 0  # else Apprise folds the title into the body
        and plugin.body_max_line_count <= 0
        and not plugin.interpret_emojis
        and not plugin.asset.interpret_escapes
        and not plugin.asset._payload_max_size
        and type(plugin).dialect_convert is NotifyBase.dialect_convert
    )


def submit(
    jobs: list[Job],
    on_each: Callable[[int, DeliveryError | None], None],
    *,
    allow_private: bool,
    timeout: float = 15.0,
    policy: netguard.AddressPolicy | None = None,
) -> None:
    """Start every job and return at once; `on_each(i, None or the DeliveryError)` runs as job
    i's send ends (on the event loop's thread or an SMTP lane's).

    Webhooks go out concurrently on this process's event loop; e-mails in order on their SMTP
    server's own lane thread, over its pooled connection. `policy` (tests) replaces allow_private's rule.
    """
    messages = [_message(job) for job in jobs]
    hooks = []
    for i, message in enumerate(messages):
        if isinstance(message, DeliveryError):
            on_each(i, message)
        elif isinstance(message.plugin, NotifyJSON):
            hooks.append(i)
        else:  # built here, so the server's lane thread spends its turn on the exchange alone
            text = _built(message)
            if isinstance(text, DeliveryError):
                on_each(i, text)
                continue
            lane = smtp.server_of(message.plugin, allow_private, policy)
            sent = SMTP_LANES.submit(lane, smtp.send, message, text, allow_private, policy, timeout)
            sent.add_done_callback(lambda done, i=i: on_each(i, _outcome(done)))
    if hooks:
        each_hook = lambda k, error: on_each(hooks[k], error)  # noqa: E731
        webhook.start([messages[i] for i in hooks], allow_private, policy, timeout, each_hook)


def send_batch(jobs: list[Job], **options) -> list[DeliveryError | None]:
    """`submit`, waiting for every result; one per job, in order: None when sent, else the error."""
    results: list[DeliveryError | None] = [None] * len(jobs)
    countdown = Countdown(len(jobs))

    def done(i: int, error: DeliveryError | None) -> None:
        results[i] = error
        countdown.one_done()

    submit(jobs, done, **options)
    countdown.wait()
    return results


def stalled(url: str, seconds: float, *, allow_private: bool, policy=None) -> bool:
    """Sends to this URL's destination (webhook host, SMTP server) wait here, none ended for `seconds`."""
    plugin = plugin_for(url)
    if isinstance(plugin, NotifyJSON):
        where = f"{plugin.host}:{plugin.port or (443 if plugin.secure else 80)}"
        return webhook.stalled(allow_private, policy, where, seconds)
    return bool(plugin) and SMTP_LANES.stalled(smtp.server_of(plugin, allow_private, policy), seconds)


def _built(message: Message) -> str | DeliveryError:
    try:
        return email_message.build(message)
    except Exception as exc:  # noqa: BLE001 - one bad message must not stop the batch
        return failed(f"cannot build the e-mail for {message.where} ({type(exc).__name__})")


def _outcome(done: Future) -> DeliveryError | None:
    try:
        return done.result()
    except Exception as exc:  # noqa: BLE001 - smtp.send returns its errors; this is a surprise
        return failed(f"the e-mail sender failed ({type(exc).__name__})")


def _message(job: Job) -> Message | DeliveryError:
    try:
        remember_secrets(job.url)  # any library text quoting a piece of the URL is masked
        if not supports(job.url):
            return failed(f"{redact(job.url)} is not a URL the fast path sends; send it through Apprise")
        if not job.body:
            return failed(f"nothing to send to {redact(job.url)} (an empty body)")
        plugin = plugin_for(job.url)
        body_format = plugin.resolve_format(job.body_format)
        body = convert_between(job.body_format, body_format, job.body).rstrip()  # as Apprise does
        return Message(plugin, job.title or "", body, body_format, dict(job.headers or {}), redact(job.url))
    except Exception as exc:  # noqa: BLE001 - one bad job must not stop the batch
        return failed(f"cannot prepare the message for {redact(job.url)} ({type(exc).__name__})")
