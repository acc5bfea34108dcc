"""How failures become HTTP answers: 4xx for the client's mistakes, 5xx only for the server's."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from riffgen.errors import RiffgenError
from riffgen.server.worker import (
    JobCancelledError,
    JobTimeoutError,
    QueueFullError,
    WorkerClosedError,
)

log = logging.getLogger("riffgen.server")

# Absolute POSIX paths of two or more parts, and Windows drive paths. A "/" right after a word
# character, ":" or "/" starts no path, so MIME types ("audio/wav") and URLs are left alone.
_PATH_RE = re.compile(r"(?<![\w:/])/(?:[\w.~+\-]+/)+[\w.~+\-]*|\b[A-Za-z]:\\[^\s'\"]+")


class FieldError(RiffgenError):
    """Bad value of one request field: answered 422 with the field's location."""

    def __init__(self, loc: Sequence[str | int], message: str) -> None:
        super().__init__(message)
        self.loc = list(loc)


def redact_paths(text: str) -> str:
    """``text`` with local file paths cut to their last part, so that no answer reveals the
    server's file system (a model folder, the install location)."""

    def last_part(match: re.Match[str]) -> str:
        parts = [p for p in re.split(r"[/\\]", match.group(0)) if p]
        return f".../{parts[-1]}" if parts else "..."

    return _PATH_RE.sub(last_part, text)


def error_body(loc: Sequence[Any], msg: str, kind: str = "value_error") -> dict[str, Any]:
    return {"detail": [{"loc": list(loc), "msg": redact_paths(msg), "type": kind}]}


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def on_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        # Only loc/msg/type: echoing the raw input could hold bytes that are not JSON.
        errors = [
            {
                "loc": [str(x) if not isinstance(x, int) else x for x in e.get("loc", ())],
                "msg": str(e.get("msg", "invalid value")),
                "type": str(e.get("type", "value_error")),
            }
            for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(FieldError)
    async def on_field_error(_: Request, exc: FieldError) -> JSONResponse:
        return JSONResponse(error_body(exc.loc, str(exc)), status_code=422)

    @app.exception_handler(RiffgenError)
    async def on_riffgen_error(_: Request, exc: RiffgenError) -> JSONResponse:
        return JSONResponse(error_body(["body"], str(exc)), status_code=422)

    @app.exception_handler(QueueFullError)
    async def on_queue_full(_: Request, exc: QueueFullError) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc), "retry_after_s": exc.retry_after_s},
            status_code=503,
            headers={"Retry-After": str(exc.retry_after_s)},
        )

    @app.exception_handler(JobTimeoutError)
    async def on_timeout(_: Request, exc: JobTimeoutError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=504)

    @app.exception_handler(JobCancelledError)
    async def on_cancelled(_: Request, exc: JobCancelledError) -> JSONResponse:
        # The client has gone; the status only shows up in the log line.
        return JSONResponse({"detail": str(exc)}, status_code=499)

    @app.exception_handler(WorkerClosedError)
    async def on_closed(_: Request, exc: WorkerClosedError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(StarletteHTTPException)
    async def on_http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"detail": jsonable_encoder(exc.detail)},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": f"internal error: {type(exc).__name__}"}, status_code=500)
