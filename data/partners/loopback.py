"""Loopback partner servers' shared machinery: a threaded HTTP server with routing, rate limiting and faults.

Used by the demo's local partner receiver (`data.partners.charge_api`) and by every test stand-in
(`tests.standins`, which re-exports these names as `tests.standins.base`).

A stand-in subclasses `StandinServer`, registers routes with `route(method, regex, handler)` and lets the
base class do the rest: it answers 404 for unknown paths, enforces a fixed-window rate limit per caller
(429 + `X-RateLimit-Limit/Remaining/Reset` and `Retry-After`), plays injected faults in order (an HTTP
status with a body, or a delay longer than the client's timeout) and records every request so tests
can assert what the client really sent.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Request:
    """One request as the stand-in received it (headers lower-cased)."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    received_at: float
    path_params: dict[str, str] = field(default_factory=dict)

    def query_value(self, name: str, default: str | None = None) -> str | None:
        """The last value of a query parameter, or `default` when absent."""
        values = [v for k, v in self.query if k == name]
        return values[-1] if values else default

    def has_query(self, name: str) -> bool:
        """Whether the parameter occurs at all (even as a bare `?cursor`)."""
        return any(k == name for k, _ in self.query)

    def json(self) -> Any:
        """The body parsed as JSON (an empty body reads as an empty object)."""
        return json.loads(self.body) if self.body else {}


@dataclass
class Response:
    """What a route handler answers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # sent verbatim instead of `body` when set


@dataclass
class Fault:
    """An injected failure: an HTTP status (with an error document) or a delay before answering."""

    status: int | None = None
    body: Any = None
    delay_seconds: float = 0.0
    path_contains: str = ""
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Response]


class RateLimiter:
    """Fixed-window request counter per caller key, as most API gateways implement it."""

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def admit(self, key: str, now: float) -> tuple[bool, int, float]:
        """Count one request; answer (admitted, remaining, window reset time)."""
        with self._lock:
            start, count = self._windows.get(key, (now, 0))
            if now - start >= self.window_seconds:
                start, count = now, 0
            reset_at = start + self.window_seconds
            if count >= self.limit:
                return False, 0, reset_at
            count += 1
            self._windows[key] = (start, count)
            return True, self.limit - count, reset_at


class StandinServer:
    """A loopback HTTP server; subclasses add routes and an `authenticate` rule."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit: int | None = None,
        rate_window_seconds: float = 60.0,
        retry_after_seconds: int | None = None,
    ) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self.limiter = RateLimiter(rate_limit, rate_window_seconds) if rate_limit else None
        self.retry_after_seconds = retry_after_seconds
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- configuration ------------------------------------------------------------------------
    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """Register a handler for a method and a full-path regex (named groups become path params)."""
        self._routes.append((method, re.compile(pattern + r"\Z"), handler))

    def inject(self, *faults: Fault) -> None:
        """Queue faults; each matching request consumes the next one before normal handling."""
        with self._lock:
            self.faults.extend(faults)

    def authenticate(self, request: Request) -> Response | None:
        """Return an error response to refuse the caller, or None to let it through."""
        return None

    def rate_key(self, request: Request) -> str:
        """The identity a rate limit is counted against (the credential, by default)."""
        return request.headers.get("authorization", "anonymous")

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:40123."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "StandinServer":
        """Serve in a daemon thread; returns self so `with Server(...).start() as s:` reads well."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()

    def serve_forever(self) -> None:
        """Serve in the calling thread (command-line use)."""
        self._httpd.serve_forever()

    def __enter__(self) -> "StandinServer":
        return self if self._thread else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def requests_to(self, path_contains: str) -> list[Request]:
        """Recorded requests whose path contains the given text."""
        return [r for r in self.requests if path_contains in r.path]

    # -- dispatch -----------------------------------------------------------------------------
    def _next_fault(self, request: Request) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self.faults):
                if fault.path_contains in request.path:
                    return self.faults.pop(i)
        return None

    def handle(self, request: Request) -> Response:
        """Auth, rate limit, injected fault, then the route handler (in that order)."""
        with self._lock:
            self.requests.append(request)
        refused = self.authenticate(request)
        if refused is not None:
            return refused
        if self.limiter is not None:
            admitted, remaining, reset_at = self.limiter.admit(self.rate_key(request), request.received_at)
            headers = {
                "X-RateLimit-Limit": str(self.limiter.limit),
                "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset": str(int(reset_at + 0.999)),
            }
            if not admitted:
                wait = self.retry_after_seconds or max(1, int(reset_at - time.time() + 0.999))
                headers["Retry-After"] = str(wait)
                return Response(429, self.too_many_requests_body(), headers)
        else:
            headers = {}
        fault = self._next_fault(request)
        if fault is not None:
            if fault.delay_seconds:
                time.sleep(fault.delay_seconds)
            if fault.status is not None:
                return Response(fault.status, fault.body, {**headers, **fault.headers})
        for method, pattern, handler in self._routes:
            match = pattern.match(request.path)
            if match and method == request.method:
                request.path_params = match.groupdict()
                response = handler(request)
                response.headers = {**headers, **response.headers}
                return response
        return self.not_found(request)

    def too_many_requests_body(self) -> Any:
        """The 429 error document of the source."""
        return {"message": "Too Many Attempts."}

    def not_found(self, request: Request) -> Response:
        """The 404 error document of the source."""
        return Response(404, {"message": f"No route for {request.method} {request.path}"})

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    method=self.command,
                    path=split.path,
                    query=parse_qsl(split.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                    received_at=time.time(),
                )
                try:
                    response = server.handle(request)
                except Exception as exc:  # a stand-in bug must still answer, like a real 500
                    response = Response(500, {"message": f"stand-in error: {type(exc).__name__}"})
                payload = response.raw if response.raw is not None else (
                    b"" if response.body is None else json.dumps(response.body).encode()
                )
                try:
                    self.send_response(response.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in response.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    # the client gave up (timeout test); nothing left to answer
                    pass

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                # stay quiet: tests read `server.requests`, and request lines may carry tokens in query strings
                return

        return _Handler


def command_line(description: str, build: Callable[[argparse.Namespace], StandinServer], extra: Callable[[argparse.ArgumentParser], None] | None = None) -> None:
    """Shared `python -m <stand-in module> --port …` entry point."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    if extra:
        extra(parser)
    args = parser.parse_args()
    server = build(args)
    print(f"{type(server).__name__} listening on {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()
