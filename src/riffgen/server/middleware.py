"""Plain ASGI middleware: one log line per request, body size and time limits, the API key.

Pure ASGI (not BaseHTTPMiddleware) so streaming, websockets and disconnect detection keep
working and the body limit applies while bytes arrive, not after they were all buffered.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("riffgen.server")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _send_json(
    send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class RequestLogMiddleware:
    """Logs ``METHOD path status bytes ms client`` once per request (and per websocket)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        state = {"status": 0, "bytes": 0}

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
            elif message["type"] == "http.response.body":
                state["bytes"] += len(message.get("body", b""))
            elif message["type"] == "websocket.accept":
                state["status"] = 101
            elif message["type"] == "websocket.close" and not state["status"]:
                state["status"] = 403
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            client = scope.get("client") or ("-", 0)
            method = scope.get("method", "WS")
            log.info(
                "%s %s %s %dB %.0fms %s",
                method,
                scope.get("path", ""),
                state["status"] or "-",
                state["bytes"],
                (time.perf_counter() - start) * 1000,
                client[0],
            )


class BodyLimitMiddleware:
    """Bounds request bodies in size and time: 413 over the limit (multipart uploads get
    ``upload_limit``, others ``json_limit``), 408 when the body arrives too slowly (a pause of
    ``idle_timeout_s``, or ``total_timeout_s`` for all of it), so a client cannot hold a
    connection by sending a byte now and then."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        upload_limit: int,
        json_limit: int,
        idle_timeout_s: float = 15.0,
        total_timeout_s: float = 120.0,
    ) -> None:
        self.app = app
        self.upload_limit = upload_limit
        self.json_limit = json_limit
        self.idle_timeout_s = idle_timeout_s
        self.total_timeout_s = total_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").lower()
        limit = self.upload_limit if content_type.startswith(b"multipart/") else self.json_limit
        too_large = {"detail": f"request body larger than {limit} bytes"}
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await _send_json(send, 400, {"detail": "invalid Content-Length"})
                return
            if declared > limit:
                await _send_json(send, 413, too_large, [(b"connection", b"close")])
                return
        received = 0
        started = False
        refused = False
        body_done = False
        deadline = time.monotonic() + self.total_timeout_s

        async def refuse(status: int, body: dict[str, Any]) -> dict[str, Any]:
            # Answer ourselves and tell the app the client left: an exception raised here
            # would be turned into a 400 by the body parser.
            nonlocal refused
            refused = True
            if not started:
                await _send_json(send, status, body, [(b"connection", b"close")])
            return {"type": "http.disconnect"}

        async def limited_receive() -> dict[str, Any]:
            nonlocal received, body_done
            if refused:
                return {"type": "http.disconnect"}
            if body_done:  # only a disconnect can follow: no timeout
                return await receive()
            wait_s = min(self.idle_timeout_s, deadline - time.monotonic())
            try:
                message = await asyncio.wait_for(receive(), timeout=max(wait_s, 0.0))
            except TimeoutError:
                return await refuse(408, {"detail": "request body arrived too slowly"})
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if received > limit:
                    return await refuse(413, too_large)
            return message

        async def send_wrapper(message: dict[str, Any]) -> None:
            nonlocal started
            if refused:
                return  # the 408/413 has been sent; drop whatever the app answers
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, send_wrapper)


class ApiKeyMiddleware:
    """Requires ``X-API-Key: KEY`` (or ``Authorization: Bearer KEY``; ``?api_key=`` for
    websockets, which browsers cannot give headers) on the API paths."""

    OPEN_PATHS = ("/api/v1/health",)

    def __init__(self, app: ASGIApp, *, api_key: str) -> None:
        self.app = app
        self.api_key = api_key.encode()

    def _protected(self, path: str) -> bool:
        if path in self.OPEN_PATHS:
            return False
        return path.startswith("/api/") or path.startswith("/run_inference")

    def _presented(self, scope: Scope) -> bytes | None:
        headers = dict(scope.get("headers") or [])
        if b"x-api-key" in headers:
            return headers[b"x-api-key"].strip()
        auth = headers.get(b"authorization", b"")
        if auth.lower().startswith(b"bearer "):
            return auth[7:].strip()
        if scope["type"] == "websocket":
            from urllib.parse import parse_qs

            values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("api_key")
            if values:
                return values[0].encode("latin-1", "replace")
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self._protected(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        presented = self._presented(scope)
        if presented is not None and hmac.compare_digest(presented, self.api_key):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await receive()  # the websocket.connect message
            await send(
                {"type": "websocket.close", "code": 4401, "reason": "missing or wrong API key"}
            )
            return
        await _send_json(
            send,
            401,
            {"detail": "missing or wrong API key (X-API-Key header)"},
            [(b"www-authenticate", b"ApiKey")],
        )
