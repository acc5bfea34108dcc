"""Connection limits that act before the app sees a request: uvicorn's settings for ``serve``.

uvicorn bounds the size of a request head (``h11_max_incomplete_event_size``) but not the time it
takes to arrive: a client sending one header byte every few seconds holds its connection forever
(slowloris). :class:`GuardedH11Protocol` closes a connection whose request line and headers are
not complete within ``header_timeout_s``. Slow bodies are the app's ``BodyLimitMiddleware``'s job.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("riffgen.server")

HEADER_TIMEOUT_S = 10.0
KEEP_ALIVE_S = 5  # idle time between requests on one connection
MAX_WS_MESSAGE_BYTES = 2**20  # bigger frames close the socket (1009); the jam replies to 64 KiB+
MAX_CONNECTIONS = 256  # beyond it uvicorn answers 503 instead of piling up work


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's line and headers."""

    header_timeout_s: float = HEADER_TIMEOUT_S
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and self.conn.their_state is h11.IDLE:
            self._arm()  # the first bytes of the next request on a kept-alive connection
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()  # the headers are complete (or the connection is done)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
        log.info("closed %s: no complete request headers within %gs", client, self.header_timeout_s)
        # h11 cannot answer a request it has not seen; the status line is written as is.
        self.transport.write(
            b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        )
        self.transport.close()


def uvicorn_options(
    *, header_timeout_s: float = HEADER_TIMEOUT_S, max_header_bytes: int = 32 * 1024
) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` that bound request heads (a head still arriving
    past ``max_header_bytes`` is refused; the app checks heads that came in one piece), idle
    connections, websocket frames and the number of connections."""
    protocol = type("GuardedH11Protocol", (GuardedH11Protocol,), {})
    protocol.header_timeout_s = header_timeout_s
    return {
        # The stdlib loop everywhere: uvicorn would pick uvloop whenever it is installed (ray[serve]
        # brings it), and the guards above are tested on asyncio's transports.
        "loop": "asyncio",
        "http": protocol,
        "h11_max_incomplete_event_size": max_header_bytes,
        "timeout_keep_alive": KEEP_ALIVE_S,
        "ws_max_size": MAX_WS_MESSAGE_BYTES,
        "limit_concurrency": MAX_CONNECTIONS,
    }
