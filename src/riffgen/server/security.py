"""Which requests the server answers at all: Host names, browser origins, header counts.

- **Host** (DNS rebinding): a page on ``attacker.example`` whose DNS name is re-pointed at
  127.0.0.1 reaches this server with ``Host: attacker.example``. Only localhost names, IP
  addresses (no DNS involved, so nothing to rebind) and configured names are answered.
- **Origin** (cross-site requests): browsers mark websocket handshakes and POSTs with the page's
  origin. The jam websocket and state-changing requests from another origin are refused (403)
  unless that origin is allowed, so no web page can spend this server's model time or upload to
  it. Requests without an Origin (curl, scripts, the original riffusion-app's Node proxy) pass,
  unless ``Sec-Fetch-Site`` still marks them as coming from another site.
- **Request head**: more than ``max_headers`` lines or ``max_header_bytes`` is refused (431).
  uvicorn applies the byte limit to heads still arriving; a head read in one piece gets here.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from riffgen.server.middleware import ASGIApp, Receive, Scope, Send

LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


def split_host(value: str) -> tuple[str, int | None]:
    """``Host`` header value -> (lower-case name without brackets, port or None)."""
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:3013
        name, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        name, port = value.split(":")
    else:
        name, port = value, ""
    return name.rstrip("."), int(port) if port.isdigit() else None


def is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def normalise_origin(origin: str) -> str:
    """``https://Example.org/`` -> ``https://example.org`` (how browsers send Origin)."""
    return origin.strip().rstrip("/").lower()


class SiteGuardMiddleware:
    """Refuses unknown Host names (400), cross-site POSTs and websockets (403), oversized
    request heads (431). ``"*"`` in ``allowed_hosts`` or ``allowed_origins`` switches that check off."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_hosts: Iterable[str] = (),
        allowed_origins: Iterable[str] = (),
        max_headers: int = 100,
        max_header_bytes: int = 32 * 1024,
    ) -> None:
        self.app = app
        hosts = set(allowed_hosts)
        origins = set(allowed_origins)
        self.any_host = "*" in hosts
        self.hosts = LOCAL_NAMES | {split_host(h)[0] for h in hosts - {"*"}}
        self.any_origin = "*" in origins
        self.origins = {normalise_origin(o) for o in origins - {"*"}}
        self.max_headers = max_headers
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, detail = refusal
        if scope["type"] == "websocket":
            await receive()  # websocket.connect; a close before accept is an HTTP 403
            await send({"type": "websocket.close", "code": 1008, "reason": detail[:120]})
            return
        body = json.dumps({"detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _refusal(self, scope: Scope) -> tuple[int, str] | None:
        raw_headers = scope.get("headers") or []
        if len(raw_headers) > self.max_headers:
            return 431, f"more than {self.max_headers} request headers"
        if sum(len(k) + len(v) + 4 for k, v in raw_headers) > self.max_header_bytes:
            return 431, f"request headers larger than {self.max_header_bytes} bytes"
        headers = {k.lower(): v.decode("latin-1") for k, v in raw_headers}
        host = headers.get(b"host")
        if host is not None and not self._host_allowed(host):
            return 400, f"this server does not answer to the host name {split_host(host)[0]!r}"
        checked = scope["type"] == "websocket" or scope.get("method") in STATE_CHANGING
        if checked and not self._origin_allowed(headers, host):
            origin = headers.get(b"origin", "another site")
            return 403, f"cross-site request from {origin[:80]!r} refused"
        return None

    def _host_allowed(self, host: str) -> bool:
        name, _ = split_host(host)
        return self.any_host or name in self.hosts or is_ip_address(name)

    def _origin_allowed(self, headers: dict[bytes, Any], host: str | None) -> bool:
        origin = headers.get(b"origin")
        if origin is None:
            # Browsers send Origin on these requests; Sec-Fetch-Site covers those that do not.
            return headers.get(b"sec-fetch-site", "none") not in ("cross-site", "same-site")
        if self.any_origin or normalise_origin(origin) in self.origins:
            return True
        return host is not None and _same_origin(origin, host)


def _same_origin(origin: str, host: str) -> bool:
    """Whether ``origin`` names the host and port the request was sent to. The scheme is not
    compared: behind a TLS proxy the page is https while this server sees plain http."""
    try:
        parts = urlsplit(origin.strip().lower())
        origin_port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return False
    name, port = split_host(host)
    return parts.hostname == name and origin_port == (port or _DEFAULT_PORTS.get(parts.scheme))
