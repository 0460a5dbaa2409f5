"""Receiver for Eevion's `webhookOnSessionComplete` POSTs (seed 003): a Starlette app served by uvicorn.

Eevion POSTs the finished session (the same body as `GET /session/{id}`) to the URL given when the
session was started. The URL carries a secret path token — `/eevion/<token>/session-complete` — because
Eevion signs nothing; a request with any other path is answered 404 without a hint.

Each accepted body is written to the landing zone *before* the 200 goes out —
`eevion/webhooks/<UTC day>/<session id>-<sha8>.json` through a unique temp file, fsync, rename and an fsync
of the folder (`LandingZoneResource.write_file`) — so an acknowledged delivery survives a crash. The name is
derived from the content, so a re-sent identical body lands on the same file: stored exactly once, even
when the copies arrive at the same moment. A body that is not a JSON object is still kept (the parse asset
quarantines it as MALFORMED_JSON or NOT_A_PAGE) under `unparsed-<sha8>.json`.

Answers (ours are JSON `{"result": ..., "message"/"stored": ...}`; uvicorn's own 400 and 503 are plain text):
- 200 stored; 404 wrong path or token; 405 right path, not POST;
- 400 empty body, or a request uvicorn cannot parse (e.g. a non-numeric Content-Length);
- 408 the body did not arrive within `read_timeout_seconds`;
- 411 neither Content-Length nor chunked Transfer-Encoding;
- 413 body over `max_body_bytes` (declared or counted while reading a chunked body; never stored);
- 415 a Content-Type that is not JSON or text, or a Content-Encoding we do not decode;
- 503 the body could not be stored (retry), or `limit_concurrency` connections are open (uvicorn counts the
  new one too, so `limit_concurrency - 1` requests are served at once).

Run: `EEVION_WEBHOOK_TOKEN=… python -m resources.eevion_webhook --port 8090 [--landing data/landing]`.
The token comes from the environment only and is never logged (uvicorn's access log, which prints the
path, is off; our own log line names the method and status only).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import re
import socket
import threading
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from resources.landing import LandingZoneResource

log = logging.getLogger(__name__)

PATH = re.compile(r"^/eevion/(?P<token>[^/]+)/session-complete/?$")
_SAFE_ID = re.compile(r"[^A-Za-z0-9_.-]")
# Media types a JSON session body may honestly be sent as; anything else (forms, multipart) is refused.
_ACCEPTED_MEDIA_TYPES = {"application/json", "text/json", "text/plain", "application/octet-stream"}
# An over-long body is read and thrown away up to this multiple of the limit so the sender sees the 413
# instead of a reset connection; past it the connection is simply closed after the answer.
_DRAIN_FACTOR = 8


def landing_name(body: bytes) -> str:
    """`<session id>-<sha8>.json` for a session body, `unparsed-<sha8>.json` otherwise."""
    digest = hashlib.sha256(body).hexdigest()[:8]
    try:
        session_id = json.loads(body).get("sessionId")
    except (ValueError, AttributeError, RecursionError):
        session_id = None
    prefix = _SAFE_ID.sub("_", str(session_id))[:64] if session_id else "unparsed"
    return f"{prefix}-{digest}.json"


def _answer(status: int, message: str) -> JSONResponse:
    return JSONResponse({"result": "error", "message": message}, status_code=status)


class _BodyTooLarge(Exception):
    pass


class EevionWebhookReceiver:
    """Persists webhook bodies to the landing zone; `app` is the ASGI app, `start()` serves it on uvicorn."""

    def __init__(self, landing: LandingZoneResource, token: str, host: str = "127.0.0.1", port: int = 0,
                 max_body_bytes: int = 1_000_000, read_timeout_seconds: float = 30.0,
                 limit_concurrency: int = 200, backlog: int = 512,
                 clock=lambda: dt.datetime.now(dt.timezone.utc)) -> None:
        if not token:
            raise ValueError("a webhook token is required (EEVION_WEBHOOK_TOKEN)")
        self.landing = landing
        self._token = token
        self.max_body_bytes = max_body_bytes
        self.read_timeout_seconds = read_timeout_seconds
        self._clock = clock
        self.app = Starlette(routes=[Route("/{path:path}", self._handle,
                                           methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])])
        # We bind the socket ourselves so port 0 gives a known port before serving starts.
        self._socket = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self._socket.listen(backlog)
        self._server = uvicorn.Server(uvicorn.Config(
            self.app, http="h11", lifespan="off", access_log=False, log_config=None, server_header=False,
            limit_concurrency=limit_concurrency, backlog=backlog, timeout_keep_alive=5,
            timeout_graceful_shutdown=10))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL (without the secret path)."""
        host, port = self._socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def webhook_url(self) -> str:
        """The full URL to give Eevion as `webhookOnSessionComplete` (contains the secret)."""
        return f"{self.url}/eevion/{self._token}/session-complete"

    def start(self) -> "EevionWebhookReceiver":
        """Serve in a daemon thread; returns once the server accepts connections."""
        self._thread = threading.Thread(target=self.serve_forever, name="eevion-webhook", daemon=True)
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the webhook receiver did not start")
            self._thread.join(0.01)
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until `stop()` (or SIGINT/SIGTERM when this is the main thread)."""
        self._server.run(sockets=[self._socket])

    def stop(self) -> None:
        """Finish the requests in flight, then stop and close the socket."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
        self._socket.close()

    def persist(self, body: bytes) -> Path:
        """Land one body durably under today's (UTC) folder; returns the file."""
        day = self._clock().date().isoformat()
        return self.landing.write_file(f"eevion/webhooks/{day}/{landing_name(body)}", body)

    def _authorised(self, path: str) -> bool:
        match = PATH.match(path)
        return bool(match) and hmac.compare_digest(match["token"].encode(), self._token.encode())

    async def _handle(self, request: Request) -> JSONResponse:
        response = await self._respond(request)
        # the path holds the secret token: log the method and status only
        log.info("eevion webhook %s -> %s", request.method, response.status_code)
        return response

    async def _respond(self, request: Request) -> JSONResponse:
        if not self._authorised(request.url.path):
            return _answer(404, "not found")
        if request.method != "POST":
            response = _answer(405, "POST only")
            response.headers["Allow"] = "POST"
            return response
        headers = request.headers
        if "content-length" not in headers and "chunked" not in headers.get("transfer-encoding", "").lower():
            return _answer(411, "a Content-Length or a chunked Transfer-Encoding is required")
        media_type = headers.get("content-type", "application/json").split(";", 1)[0].strip().lower()
        if media_type not in _ACCEPTED_MEDIA_TYPES and not media_type.endswith("+json"):
            return _answer(415, f"unsupported Content-Type {media_type!r}; send application/json")
        if headers.get("content-encoding", "identity").strip().lower() != "identity":
            return _answer(415, "unsupported Content-Encoding; send the body uncompressed")
        try:
            async with asyncio.timeout(self.read_timeout_seconds):
                body = await self._read_body(request)
        except TimeoutError:
            return _answer(408, f"the body did not arrive within {self.read_timeout_seconds:g} s")
        except _BodyTooLarge:
            return _answer(413, f"body over {self.max_body_bytes} bytes")
        except ClientDisconnect:
            return _answer(400, "the client went away before the body was complete")
        if not body:
            return _answer(400, "empty body")
        try:
            path = await run_in_threadpool(self.persist, body)
        except OSError:
            log.exception("could not persist an Eevion webhook body")
            return _answer(503, "could not store the body; retry")
        return JSONResponse({"result": "ok", "stored": path.name})

    async def _read_body(self, request: Request) -> bytes:
        """The whole body (chunked or not); over the limit it is drained and `_BodyTooLarge` raised."""
        declared = request.headers.get("content-length")
        too_large = declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes
        parts: list[bytes] = []
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > self.max_body_bytes:
                too_large = True
            if too_large:
                parts.clear()
                if received > self.max_body_bytes * _DRAIN_FACTOR:
                    break
            else:
                parts.append(chunk)
        if too_large:
            raise _BodyTooLarge
        return b"".join(parts)


def main() -> None:
    """Command-line entry point: `python -m resources.eevion_webhook --port 8090`."""
    parser = argparse.ArgumentParser(description="Eevion webhookOnSessionComplete receiver")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--landing", default=os.environ.get("CHARGELEDGER_LANDING", "data/landing"))
    parser.add_argument("--max-body-bytes", type=int, default=1_000_000)
    parser.add_argument("--read-timeout", type=float, default=30.0, help="seconds allowed for a whole body")
    parser.add_argument("--limit-concurrency", type=int, default=200,
                        help="open connections beyond this get 503 (bounded work under load)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    receiver = EevionWebhookReceiver(LandingZoneResource(root=args.landing), os.environ.get("EEVION_WEBHOOK_TOKEN", ""),
                                     host=args.host, port=args.port, max_body_bytes=args.max_body_bytes,
                                     read_timeout_seconds=args.read_timeout, limit_concurrency=args.limit_concurrency)
    print(f"Eevion webhook receiver on {receiver.url}/eevion/<token>/session-complete", flush=True)
    receiver.serve_forever()


if __name__ == "__main__":
    main()
