"""Client of the Eevion API (seed 003, Hypercharge) as a Dagster resource.

- Auth: the API key as `Authorization: Bearer <apiKey>` (the collection's auth), from `dg.EnvVar`.
- `POST /session` lists sessions with `updatedOnOrAfter` (epoch ms), `limit` and a zero-based `offset`;
  the answer is a bare array, so the listing ends at the first page shorter than `limit`.
- `GET /session/{id}` and `POST /session/report` (`startTimestamp`/`endTimestamp` ms, `groupBy`).
- The documented quota is 60 requests per 60 s per key: a client-side sliding-window limiter keeps under
  it (the window is configurable for tests), and a 429 that still happens is waited out like any other
  (`send_with_retries`).
- Raw bodies go to the caller's `on_page(n, raw)` before they are parsed.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import dagster as dg
import httpx
from pydantic import PrivateAttr

from resources.platform_api import ApiError, OnPage, RetrySettings, send_with_retries


class SlidingWindowLimiter:
    """Blocks until one more request fits into `limit` requests per `window_seconds`."""

    def __init__(self, limit: int, window_seconds: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Wait for a free slot, then take it."""
        with self._lock:
            while True:
                now = self._clock()
                while self._sent and now - self._sent[0] >= self.window_seconds:
                    self._sent.popleft()
                if len(self._sent) < self.limit:
                    self._sent.append(now)
                    return
                self._sleep(self.window_seconds - (now - self._sent[0]) + 0.001)


class EevionApiResource(dg.ConfigurableResource):
    """The Eevion API: session listing, single session, report; client-side rate limited."""

    base_url: str = "https://app.hypercharge.com/api/eevion"
    api_key: str
    environment: str | None = None  # "staging" adds ?environment=staging, as the seed describes
    page_limit: int = 500
    requests_per_window: int = 60
    window_seconds: float = 60.0
    timeout_seconds: float = 30.0
    max_retries: int = 6
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 60.0

    _limiter: SlidingWindowLimiter | None = PrivateAttr(default=None)

    def limiter(self) -> SlidingWindowLimiter:
        """The limiter shared by every request of this resource instance."""
        if self._limiter is None:
            self._limiter = SlidingWindowLimiter(self.requests_per_window, self.window_seconds)
        return self._limiter

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url.rstrip("/"), timeout=self.timeout_seconds,
                            headers={"Authorization": f"Bearer {self.api_key}", "Accept": "application/json"})

    def _params(self) -> Sequence[tuple[str, str]]:
        return [("environment", self.environment)] if self.environment else []

    def _send(self, client: httpx.Client, method: str, path: str, body: Any, sleep: Callable[[float], None]) -> httpx.Response:
        settings = RetrySettings(self.max_retries, self.backoff_seconds, self.max_backoff_seconds)
        return send_with_retries(client, method, path, settings=settings, params=self._params(), json_body=body,
                                 sleep=sleep, before_request=self.limiter().acquire)

    def fetch_session_pages(self, on_page: OnPage, *, updated_on_or_after_ms: int | None = None,
                            sites: Sequence[str] = (), stations: Sequence[str] = (),
                            sleep: Callable[[float], None] = time.sleep) -> int:
        """Page through `POST /session` by offset; every page goes to `on_page` before parsing. Returns pages."""
        offset, pages = 0, 0
        with self._client() as client:
            while True:
                body: dict[str, Any] = {"limit": self.page_limit, "offset": offset}
                if updated_on_or_after_ms is not None:
                    body["updatedOnOrAfter"] = updated_on_or_after_ms
                if sites:
                    body["sites"] = list(sites)
                if stations:
                    body["stations"] = list(stations)
                response = self._send(client, "POST", "/session", body, sleep)
                pages += 1
                on_page(pages, response.content)
                try:
                    items = json.loads(response.content)
                except ValueError as exc:
                    raise ApiError(response.status_code, f"session page {pages} is not JSON") from exc
                if not isinstance(items, list):
                    raise ApiError(response.status_code, f"session page {pages} is not an array")
                if len(items) < self.page_limit:
                    return pages
                offset += len(items)

    def get_session(self, session_id: str, sleep: Callable[[float], None] = time.sleep) -> bytes:
        """`GET /session/{id}`: the raw body of one session."""
        with self._client() as client:
            return self._send(client, "GET", f"/session/{session_id}", None, sleep).content

    def fetch_report(self, start_ms: int, end_ms: int, *, group_by: str = "station", sites: Sequence[str] = (),
                     stations: Sequence[str] = (), regions: Sequence[str] = (),
                     sleep: Callable[[float], None] = time.sleep) -> bytes:
        """`POST /session/report` for [start_ms, end_ms): the raw body (an array of group rows)."""
        body: dict[str, Any] = {"startTimestamp": start_ms, "endTimestamp": end_ms, "groupBy": group_by}
        for name, values in (("sites", sites), ("stations", stations), ("regions", regions)):
            if values:
                body[name] = list(values)
        with self._client() as client:
            return self._send(client, "POST", "/session/report", body, sleep).content
