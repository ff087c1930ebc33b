"""Headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) and the real app served
by uvicorn on a free port, for the browser tests."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
ARGS += ["--disable-sync"]

# Chromium's push service is on the internet; the page's call to it is the one edge we replace.
# The subscription it returns points at the test's own push endpoint, with keys the test made.
FAKE_PUSH_SERVICE = """
(() => {
  const endpoint = %(endpoint)s, keys = %(keys)s;
  let current = null;
  PushManager.prototype.subscribe = async function (options) {
    const key = new Uint8Array(options.applicationServerKey);
    window.__applicationServerKey = btoa(String.fromCharCode(...key))
      .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
    current = {
      endpoint, expirationTime: null, options,
      toJSON() { return { endpoint, expirationTime: null, keys }; },
      async unsubscribe() { current = null; window.__unsubscribed = true; return true; },
    };
    return current;
  };
  PushManager.prototype.getSubscription = async function () { return current; };
})();
"""


def launch(playwright):
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
            "(`apt-get install -y chromium`; .ci/run installs it)",
            pytrace=False,
        )
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)


class Served:
    """The app under uvicorn in a thread, on 127.0.0.1:port."""

    def __init__(self, port: int):
        import uvicorn

        from notifier.api import app

        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.base = f"http://127.0.0.1:{port}"

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
