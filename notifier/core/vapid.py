"""The server's VAPID key pair (RFC 8292): how push services know our alerts come from us.

Browsers subscribe with our public key, and a push service accepts a message for that
subscription only when it is signed by the matching private key, so the key must never change
under existing subscriptions and every process must sign with the same one. It is made at first
start and kept in the data dir (`vapid_private.pem`) and in Redis (one SET NX decides, as for
the unsubscribe secret): `notifier run` keeps both in its data dir, and the processes of a
compose stack, which share Redis but not a disk, agree through Redis. A key already in the data
dir is adopted first, so moving to a new Redis keeps the subscriptions working.
"""

from __future__ import annotations

import base64
import logging
import threading
from pathlib import Path
from urllib.parse import urlsplit

import redis
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid02

from notifier.settings import Settings

log = logging.getLogger(__name__)

KEY, FILE = "secret:vapid", "vapid_private.pem"
_lock = threading.Lock()
_signers: dict[str, Vapid02] = {}


def signer(r: redis.Redis, settings: Settings) -> Vapid02:
    """The key pair, loaded once per process and data dir."""
    with _lock:
        held = _signers.get(str(settings.data_dir))
        if held is None:
            held = _signers[str(settings.data_dir)] = Vapid02.from_pem(_private_pem(r, settings).encode())
        return held


def public_key(r: redis.Redis, settings: Settings) -> str:
    """The applicationServerKey a browser subscribes with: the raw P-256 point, base64url."""
    raw = signer(r, settings).public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def contact(settings: Settings) -> str:
    """The `sub` claim: who a push service writes to when our messages cause trouble."""
    if settings.vapid_contact:
        return settings.vapid_contact
    base = settings.base_url
    return base if base.startswith("https://") else f"mailto:webpush@{urlsplit(base).hostname or 'localhost'}"


def _private_pem(r: redis.Redis, settings: Settings) -> str:
    path = Path(settings.data_dir) / FILE
    if path.exists():
        r.set(KEY, path.read_text(), nx=True)
    if not r.exists(KEY):
        fresh = Vapid02()
        fresh.generate_keys()
        r.set(KEY, fresh.private_pem().decode(), nx=True)  # another process may have won: fine
    pem = r.get(KEY)
    pem = pem.decode() if isinstance(pem, bytes) else pem
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(pem)
        path.chmod(0o600)
    elif path.read_text() != pem:
        log.warning("%s differs from the VAPID key in Redis; using Redis's, which every process shares", path)
    return pem
