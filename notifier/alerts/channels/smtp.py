"""mailto:// e-mail sent over SMTP connections pooled per thread (the message: `email_message`).

Apprise connects, says EHLO, logs in and loads the CA store (~50 ms) for every message; here a
thread keeps one logged-in connection per server and account, and the process one SSL context.
Every connection goes to an address the guard checked (`_Pinned`), while TLS still checks the
server's name.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import smtplib
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from functools import cache

from apprise.plugins.email.common import SecureMailMode

from notifier.alerts.channels import smtp_errors
from notifier.alerts.channels.base import DeliveryError, Message
from notifier.core import netguard

IDLE_CHECK = 30.0  # a connection unused this long is asked NOOP first: servers drop idle clients
MAX_POOLED = 8  # per thread; past it the least recently used closes (say each reader's own Gmail)

_local = threading.local()
_pools: list[tuple[int, dict]] = []  # every thread's pool, with its process id, for closing at exit
_pools_lock = threading.Lock()


class _Stale(Exception):
    """A reused connection the server had closed: nothing of the message was sent on it."""


def send(message: Message, text: str, allow_private: bool, policy, timeout: float) -> DeliveryError | None:
    """Send `text` (the message built by `email_message.build`) over this thread's pooled connection."""
    try:
        _send_pooled(message.plugin, text, allow_private, policy, timeout)
    except Exception as exc:  # noqa: BLE001 - every failure becomes this job's result
        return smtp_errors.failure(exc, message)
    return None


def server_of(plugin, allow_private: bool, policy) -> tuple:
    """The SMTP server a message goes to: what its sends queue behind (one lane per server)."""
    return (plugin.smtp_host, plugin.port, allow_private, policy)


# --- the pool ----------------------------------------------------------------------------------


@dataclass
class _Connection:
    smtp: smtplib.SMTP
    used: float


def _send_pooled(plugin, text: str, allow_private: bool, policy, timeout: float) -> None:
    key = (plugin.smtp_host, plugin.port, plugin.user, plugin.password, plugin.secure_mode)
    key += (plugin.verify_certificate, allow_private, policy)
    pool, envelope = _pool(), (plugin.from_addr[1], plugin.targets[0][1], text)
    connection = pool.pop(key, None)
    if connection is not None and time.monotonic() - connection.used > IDLE_CHECK and not _alive(connection):
        connection = None
    try:
        try:
            reused = connection is not None
            connection = connection or _connect(plugin, allow_private, policy, timeout)
            _transmit(connection.smtp, *envelope, reused=reused)
        except _Stale:
            _close(connection)
            connection = _connect(plugin, allow_private, policy, timeout)
            _transmit(connection.smtp, *envelope, reused=False)
    except BaseException:
        _close(connection)  # its state is unknown after an error: the next message gets a new one
        raise
    connection.used = time.monotonic()
    pool[key] = connection  # last in the dict: the most recently used
    while len(pool) > MAX_POOLED:
        _close(pool.pop(next(iter(pool))))


def _pool() -> dict:
    """This thread's connections; a forked child starts empty (its parent's sockets are not its own)."""
    if getattr(_local, "pid", None) != os.getpid():
        _local.pid, _local.pool = os.getpid(), {}
        with _pools_lock:
            _pools.append((os.getpid(), _local.pool))
    return _local.pool


def _alive(connection: _Connection) -> bool:
    with contextlib.suppress(smtplib.SMTPException, OSError):
        if connection.smtp.noop()[0] == 250:
            return True
    _close(connection)
    return False


def _close(connection: _Connection | None) -> None:
    if connection is not None:
        with contextlib.suppress(OSError):
            connection.smtp.close()


@atexit.register
def close_all() -> None:
    """Say QUIT on every pooled connection of this process: at exit, and between tests."""
    with _pools_lock:
        mine = [pool for pid, pool in _pools if pid == os.getpid()]
        _pools[:] = [(pid, pool) for pid, pool in _pools if pid == os.getpid()]
    for pool in mine:
        for connection in list(pool.values()):
            with contextlib.suppress(smtplib.SMTPException, OSError):
                connection.smtp.quit()
            _close(connection)
        pool.clear()


def _transmit(smtp: smtplib.SMTP, sender: str, recipient: str, text: str, *, reused: bool) -> None:
    """smtplib's sendmail for one recipient, telling a reused connection the server has closed
    (gone, or 421 at MAIL: nothing of the message sent yet) apart from a refusal."""
    options = [f"size={len(text)}"] if smtp.has_extn("size") else []
    try:
        code, reply = smtp.mail(sender, options)
    except smtplib.SMTPServerDisconnected as exc:
        if reused:
            raise _Stale from exc
        raise
    if code == 421 and reused:
        raise _Stale
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    code, reply = smtp.rcpt(recipient)
    if code not in (250, 251):
        raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
    code, reply = smtp.data(text)
    if code != 250:
        raise smtplib.SMTPDataError(code, reply)


# --- connecting --------------------------------------------------------------------------------


class _Pinned:
    """Connects to the address the guard checked, while TLS still checks the server's name."""

    def __init__(self, address: str, host: str, port: int, **kwargs):
        self.address = address
        super().__init__(host, port, **kwargs)  # smtplib keeps `host` for TLS's server_hostname

    def _get_socket(self, host, port, timeout):
        return super()._get_socket(self.address, port, timeout)


class _PinnedSMTP(_Pinned, smtplib.SMTP):
    pass


class _PinnedSMTPS(_Pinned, smtplib.SMTP_SSL):
    pass


@cache
def _context(verify: bool) -> ssl.SSLContext:
    """One per process: building one loads the CA store, ~50 ms (docs/performance.md)."""
    context = ssl.create_default_context()
    if not verify:  # the URL said verify=no, as Apprise honours it
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


@cache
def _local_name() -> str:
    return socket.getfqdn()  # smtplib asks DNS for it on every connection otherwise


def _connect(plugin, allow_private: bool, policy, timeout: float) -> _Connection:
    addresses = netguard.resolve_public(plugin.smtp_host, plugin.port, allow_private, policy=policy)
    context = _context(plugin.verify_certificate)
    smtp = _greeted(plugin, addresses, context, timeout)
    connection = _Connection(smtp, time.monotonic())
    try:
        if plugin.secure_mode == SecureMailMode.STARTTLS:
            smtp.starttls(context=context)
            smtp.ehlo()
        if plugin.user and plugin.password:
            smtp.login(plugin.user, plugin.password)
    except BaseException:
        _close(connection)
        raise
    return connection


def _greeted(plugin, addresses: list[str], context: ssl.SSLContext, timeout: float) -> smtplib.SMTP:
    """A connection whose server greeted us and answered EHLO (or HELO). What fails here says
    whether the server is there at all: it is raised as `AtGreeting`."""
    smtp = None
    try:
        smtp = _open(plugin, addresses, context, timeout)
        smtp.ehlo_or_helo_if_needed()  # HELO when EHLO is refused, as smtplib's own commands do
    except Exception as exc:
        if smtp is not None:
            with contextlib.suppress(OSError):
                smtp.close()
        raise smtp_errors.AtGreeting() from exc
    return smtp


def _open(plugin, addresses: list[str], context: ssl.SSLContext, timeout: float) -> smtplib.SMTP:
    """A connection to the first address that answers."""
    implicit = plugin.secure_mode == SecureMailMode.SSL
    kind, extra = (_PinnedSMTPS, {"context": context}) if implicit else (_PinnedSMTP, {})
    options = {"local_hostname": _local_name(), "timeout": timeout, **extra}
    for address in addresses[:-1]:
        with contextlib.suppress(OSError):
            return kind(address, plugin.smtp_host, plugin.port, **options)
    return kind(addresses[-1], plugin.smtp_host, plugin.port, **options)
