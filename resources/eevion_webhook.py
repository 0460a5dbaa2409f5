"""Receiver for Eevion's `webhookOnSessionComplete` POSTs (seed 003).

Eevion POSTs the finished session (the same body as `GET /session/{id}`) to the URL given when the
session was started. The URL carries a secret path token — `/eevion/<token>/session-complete` — because
Eevion signs nothing; a request with any other path is answered 404 without a hint. Each accepted body is
written to the landing zone *before* the 200 goes out — `eevion/webhooks/<UTC day>/<session id>-<sha8>.json`
via temp file, fsync, rename and an fsync of the folder — so an acknowledged delivery survives a crash.
The name is derived from the content, so a re-sent identical body lands on the same file (idempotent).
A body that is not a JSON object is still kept (the parse asset quarantines it as MALFORMED_JSON or
NOT_A_PAGE) under `unparsed-<sha8>.json`; bodies over `max_body_bytes` get 413 and are not stored.

Run: `EEVION_WEBHOOK_TOKEN=… python -m resources.eevion_webhook --port 8090 [--landing data/landing]`.
The token comes from the environment only and is never logged (request lines are logged with the path
redacted).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from resources.landing import LandingZoneResource

log = logging.getLogger(__name__)

PATH = re.compile(r"^/eevion/(?P<token>[^/]+)/session-complete/?$")
_SAFE_ID = re.compile(r"[^A-Za-z0-9_.-]")


def landing_name(body: bytes) -> str:
    """`<session id>-<sha8>.json` for a session body, `unparsed-<sha8>.json` otherwise."""
    digest = hashlib.sha256(body).hexdigest()[:8]
    try:
        session_id = json.loads(body).get("sessionId")
    except (ValueError, AttributeError):
        session_id = None
    prefix = _SAFE_ID.sub("_", str(session_id))[:64] if session_id else "unparsed"
    return f"{prefix}-{digest}.json"


class EevionWebhookReceiver:
    """A small threaded HTTP server that persists webhook bodies to the landing zone."""

    def __init__(self, landing: LandingZoneResource, token: str, host: str = "127.0.0.1", port: int = 0,
                 max_body_bytes: int = 1_000_000, clock=lambda: dt.datetime.now(dt.timezone.utc)) -> None:
        if not token:
            raise ValueError("a webhook token is required (EEVION_WEBHOOK_TOKEN)")
        self.landing = landing
        self._token = token
        self.max_body_bytes = max_body_bytes
        self._clock = clock
        self.stored: list[Path] = []
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL (without the secret path)."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def webhook_url(self) -> str:
        """The full URL to give Eevion as `webhookOnSessionComplete` (contains the secret)."""
        return f"{self.url}/eevion/{self._token}/session-complete"

    def start(self) -> "EevionWebhookReceiver":
        """Serve in a daemon thread."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="eevion-webhook", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread."""
        self._httpd.serve_forever()

    def stop(self) -> None:
        """Stop and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()

    def persist(self, body: bytes) -> Path:
        """Land one body durably under today's (UTC) folder; returns the file."""
        day = self._clock().date().isoformat()
        path = self.landing.write_file(f"eevion/webhooks/{day}/{landing_name(body)}", body)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)  # make the rename durable before we acknowledge
        finally:
            os.close(fd)
        self.stored.append(path)
        return path

    def _authorised(self, path: str) -> bool:
        match = PATH.match(path.split("?", 1)[0])
        return bool(match) and hmac.compare_digest(match["token"].encode(), self._token.encode())

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self, status: int, body: dict) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:
                if not receiver._authorised(self.path):
                    self._discard_body()
                    self._answer(404, {"result": "error", "message": "not found"})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                if length > receiver.max_body_bytes:
                    self.close_connection = True
                    self._answer(413, {"result": "error", "message": "body too large"})
                    return
                body = self.rfile.read(length)
                try:
                    path = receiver.persist(body)
                except OSError:
                    log.exception("could not persist an Eevion webhook body")
                    self._answer(503, {"result": "error", "message": "could not store the body; retry"})
                    return
                self._answer(200, {"result": "ok", "stored": path.name})

            def do_GET(self) -> None:
                self._answer(404 if not receiver._authorised(self.path) else 405,
                             {"result": "error", "message": "POST only"})

            def _discard_body(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if 0 < length <= receiver.max_body_bytes:
                    self.rfile.read(length)
                else:
                    self.close_connection = True

            def log_message(self, format: str, *args) -> None:
                # the path holds the secret token: log the method and status only
                log.info("eevion webhook %s -> %s", self.command, args[1] if len(args) > 1 else "")

        return _Handler


def main() -> None:
    """Command-line entry point: `python -m resources.eevion_webhook --port 8090`."""
    parser = argparse.ArgumentParser(description="Eevion webhookOnSessionComplete receiver")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--landing", default=os.environ.get("CHARGELEDGER_LANDING", "data/landing"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    receiver = EevionWebhookReceiver(LandingZoneResource(root=args.landing), os.environ.get("EEVION_WEBHOOK_TOKEN", ""),
                                     host=args.host, port=args.port)
    print(f"Eevion webhook receiver on {receiver.url}/eevion/<token>/session-complete", flush=True)
    try:
        receiver.serve_forever()
    except KeyboardInterrupt:
        receiver.stop()


if __name__ == "__main__":
    main()
