"""The address guard for libraries we do not drive ourselves: Apprise's plugins (requests,
smtplib, paho-mqtt, ...) and httpx for WebSub hubs.

Inside `connections_checked(policy)`, every name lookup made in this context goes through the
guard: `socket.getaddrinfo` is wrapped once per process, and inside a guarded block the wrapper
checks every address it is about to return. One refused address refuses the lookup, with an
error that is a `socket.gaierror`, so each library handles it as the failed connection it is.
What a library connects to is exactly what was checked: there is no second lookup for DNS to
rebind, and every redirect hop is a new lookup, checked again. Outside a guarded block (and in
threads that do not carry its context) the wrapper passes lookups through untouched; Apprise
copies the caller's context into the threads it notifies from, so its sends stay guarded.
"""

from __future__ import annotations

import contextvars
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from notifier.core.netguard import AddressPolicy, AddressRefused, check_addresses

_policy: contextvars.ContextVar[AddressPolicy | None] = contextvars.ContextVar("guard_policy", default=None)
_refused: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("guard_refused", default=None)
_install_lock = threading.Lock()
_resolve = socket.getaddrinfo  # the system resolver: the one edge tests may replace


class RefusedLookup(socket.gaierror):
    """A name (or IP literal) whose address the guard refused; a library sees a failed lookup."""


def install() -> None:
    """Wrap `socket.getaddrinfo` once per process; calling it again does nothing."""
    with _install_lock:
        if getattr(socket.getaddrinfo, "_notifier_guard", False):
            return

        def getaddrinfo(host, port, *args, **kwargs):
            infos = _resolve(host, port, *args, **kwargs)
            policy = _policy.get()
            if policy is not None:
                _check(host, infos, policy)
            return infos

        getaddrinfo._notifier_guard = True
        socket.getaddrinfo = getaddrinfo


def _check(host, infos, policy: AddressPolicy) -> None:
    name = host.decode() if isinstance(host, bytes) else str(host)
    try:
        check_addresses(name, [info[4][0].split("%", 1)[0] for info in infos], policy)
    except AddressRefused as exc:
        refused = _refused.get()
        if refused is not None:
            refused.append(str(exc))  # list.append is atomic: Apprise's threads may share it
        raise RefusedLookup(socket.EAI_FAIL, str(exc)) from None


@contextmanager
def connections_checked(policy: AddressPolicy) -> Iterator[list[str]]:
    """Every lookup inside the block must pass `policy`; yields the refusals, in order."""
    install()
    refused: list[str] = []
    tokens = (_policy.set(policy), _refused.set(refused))
    try:
        yield refused
    finally:
        _refused.reset(tokens[1])
        _policy.reset(tokens[0])
