"""The delivery benchmark's sinks, in a process of their own (own core, own GIL): a bare asyncio
HTTP/1.1 webhook sink (any POST answered 200 `{}`) and aiosmtpd accepting any AUTH. Both count what
they accept; GET /_stats on the HTTP port returns the counts, against which every limit and every
service run is checked. `python -m benchmarks.delivery_sinks HTTP_PORT SMTP_PORT` runs them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import urllib.request

from aiosmtpd.smtp import SMTP, AuthResult

from benchmarks.child import ChildServer
from notifier.core.embedded import free_port


class Sinks(ChildServer):
    """A webhook sink (bare asyncio HTTP/1.1, any POST answered 200 `{}`) and aiosmtpd accepting
    any AUTH; both count what they accept. GET /_stats on the HTTP port returns the counts."""

    def __init__(self) -> None:
        self.http_port, self.smtp_port = free_port(), free_port()
        self.ports = (self.http_port, self.smtp_port)

    what = "the sinks"

    def argv(self) -> list[str]:
        return ["benchmarks.delivery_sinks", *map(str, self.ports)]

    def stats(self) -> dict[str, int]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/_stats", timeout=10) as response:
            return json.loads(response.read())

    def hook(self, i: int, scheme: str = "json", rate: str | None = None) -> str:
        return f"{scheme}://127.0.0.1:{self.http_port}/hook/{i}" + (f"?rate={rate}" if rate else "")

    def mailto(self, i: int, rate: str | None = None) -> str:
        return (
            f"mailto://user:pass@localhost:{self.smtp_port}?smtp=127.0.0.1&from=a@example.com"
            f"&to=reader{i}@example.com&mode=insecure" + (f"&rate={rate}" if rate else "")
        )


class _Hook(asyncio.Protocol):
    def __init__(self, counts: dict) -> None:
        self.counts, self.buffer, self.transport = counts, b"", None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end_of_head := self.buffer.find(b"\r\n\r\n")) >= 0:
            lines = self.buffer[:end_of_head].split(b"\r\n")
            headers = dict(_header(line) for line in lines[1:])
            end = end_of_head + 4 + int(headers.get(b"content-length") or 0)
            if len(self.buffer) < end:
                return  # the rest of the body is still on its way
            self.buffer = self.buffer[end:]
            self.transport.write(self.answer(lines[0].split(b" ")[0]))
            if headers.get(b"connection", b"").lower() == b"close":
                self.transport.close()
                return

    def answer(self, method: bytes) -> bytes:
        if method == b"POST":
            self.counts["http"] += 1
            body = b"{}"
        else:
            body = json.dumps(self.counts).encode()
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
        return head % len(body) + body


def _header(line: bytes) -> tuple[bytes, bytes]:
    name, _, value = line.partition(b":")
    return name.strip().lower(), value.strip()


class _Mailbox:
    def __init__(self, counts: dict) -> None:
        self.counts = counts

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.counts["smtp"] += 1
        return "250 OK"


def _accept_any(server, session, envelope, mechanism, auth_data) -> AuthResult:
    return AuthResult(success=True)


async def serve_sinks(http_port: int, smtp_port: int) -> None:
    counts, loop = {"http": 0, "smtp": 0}, asyncio.get_running_loop()
    mailbox = _Mailbox(counts)
    hooks = await loop.create_server(lambda: _Hook(counts), "127.0.0.1", http_port, backlog=4096)
    # AUTH in clear is fine on loopback; Apprise logs in whenever the URL has a user
    session = lambda: SMTP(mailbox, hostname="sink", auth_require_tls=False, authenticator=_accept_any)  # noqa: E731
    smtp = await loop.create_server(session, "127.0.0.1", smtp_port, backlog=4096)
    print("ready", flush=True)
    async with hooks, smtp:
        await asyncio.gather(hooks.serve_forever(), smtp.serve_forever())


if __name__ == "__main__":
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd warns about itself on every login
    asyncio.run(serve_sinks(int(sys.argv[1]), int(sys.argv[2])))
