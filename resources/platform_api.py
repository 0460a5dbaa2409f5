"""Client of the charging platform's Public API (seed 001) as a Dagster resource, plus the shared retry loop.

- Auth: `Authorization: Bearer <token>`; the token comes from the environment (`dg.EnvVar`), is sent only
  to `base_url`'s origin (a `links.next` pointing elsewhere is refused) and never logged.
- Listings use cursor pagination: the first request sends an empty `cursor=` and `per_page=100`, later
  requests follow `links.next` verbatim ("Do not construct this value manually", digest §1.2).
- Every raw page is handed to the caller's `on_page` callback *before* it is parsed, so the landing zone
  holds the bytes exactly as returned even when they turn out to be malformed.
- `send_with_retries` (shared with the Eevion client) retries timeouts, transport errors and 5xx with
  exponential backoff, waits out 429 using `Retry-After` / `X-RateLimit-Reset`, pauses when
  `X-RateLimit-Remaining` reaches 0, and raises `ApiError` on any other 4xx.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import dagster as dg
import httpx

log = logging.getLogger(__name__)

RESOURCE_PATHS: dict[str, str] = {
    "cdrs": "/public-api/resources/cdrs/v2.0",
    "sessions": "/public-api/resources/sessions/v1.0",
    "tariffs": "/public-api/resources/tariffs/v1.0",
    "electricity_rates": "/public-api/resources/electricity-rates/v2.0",
}

OnPage = Callable[[int, bytes], None]


class ApiError(RuntimeError):
    """A request the API refused or that kept failing; carries the status and the API's message only."""

    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}" if status else message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class RetrySettings:
    """How hard to try: attempts after the first, backoff base and ceiling (seconds)."""

    max_retries: int = 6
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 60.0


def _error_message(response: httpx.Response) -> str:
    """The API's own message from an error document, shortened; never headers."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "error"
    if isinstance(body, dict):
        if "error_description" in body:  # an OAuth2 error document
            return f"{body.get('error')}: {body['error_description']}"[:300]
        return str(body.get("message") or body.get("error") or body)[:300]
    return str(body)[:300]


def rate_limit_wait(response: httpx.Response, now: float, fallback: float) -> float:
    """Seconds to wait after a 429: `Retry-After` (seconds or HTTP date), else `X-RateLimit-Reset`."""
    retry_after = response.headers.get("Retry-After")
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(retry_after).timestamp() - now)
            except (TypeError, ValueError):
                pass
    reset = response.headers.get("X-RateLimit-Reset")
    if reset:
        try:
            value = float(reset)
            # Laravel sends an epoch timestamp; some gateways send seconds-until-reset
            return max(0.0, value - now) if value > 1e9 else max(0.0, value)
        except ValueError:
            pass
    return fallback


def send_with_retries(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    settings: RetrySettings,
    params: Sequence[tuple[str, str]] | None = None,
    json_body: Any = None,
    form_body: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    before_request: Callable[[], None] | None = None,
) -> httpx.Response:
    """Send one request, retrying what is worth retrying; returns the first 2xx response."""
    last_problem = "no attempt made"
    for attempt in range(settings.max_retries + 1):
        backoff = min(settings.max_backoff_seconds, settings.backoff_seconds * (2 ** attempt))
        if before_request is not None:
            before_request()
        try:
            response = client.request(method, url, params=params, json=json_body, data=form_body)
        except httpx.TimeoutException:
            last_problem = "timed out"
            log.warning("%s %s timed out (attempt %d); retrying in %.2fs", method, urlsplit(url).path, attempt + 1, backoff)
            sleep(backoff)
            continue
        except httpx.TransportError as exc:
            last_problem = f"transport error {type(exc).__name__}"
            log.warning("%s %s failed with %s (attempt %d)", method, urlsplit(url).path, type(exc).__name__, attempt + 1)
            sleep(backoff)
            continue
        if response.status_code == 429:
            wait = min(settings.max_backoff_seconds, rate_limit_wait(response, time.time(), backoff))
            last_problem = "rate limited (429)"
            log.info("%s %s rate limited; waiting %.2fs as the rate-limit headers ask", method, urlsplit(url).path, wait)
            sleep(wait)
            continue
        if response.status_code >= 500:
            last_problem = f"server error {response.status_code}"
            log.warning("%s %s answered %d (attempt %d)", method, urlsplit(url).path, response.status_code, attempt + 1)
            sleep(backoff)
            continue
        if response.status_code >= 400:
            raise ApiError(response.status_code, _error_message(response))
        if response.headers.get("X-RateLimit-Remaining") == "0":
            # the window is spent: wait for the reset instead of provoking a 429 on the next call
            sleep(min(settings.max_backoff_seconds, rate_limit_wait(response, time.time(), 0.0)))
        return response
    raise ApiError(None, f"{method} {urlsplit(url).path} gave up after {settings.max_retries + 1} attempts: {last_problem}")


class PlatformApiResource(dg.ConfigurableResource):
    """The platform's Public API (seed 001): cursor listings and single reads, raw pages handed out first."""

    base_url: str
    api_token: str
    per_page: int = 100
    timeout_seconds: float = 30.0
    max_retries: int = 6
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 60.0

    def _client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {self.api_token}", "Accept": "application/json"},
            timeout=self.timeout_seconds,
        )

    @property
    def _settings(self) -> RetrySettings:
        return RetrySettings(self.max_retries, self.backoff_seconds, self.max_backoff_seconds)

    def _same_origin(self, url: str) -> bool:
        base, other = urlsplit(self.base_url), urlsplit(url)
        return (base.scheme, base.netloc) == (other.scheme, other.netloc)

    def fetch_listing(
        self,
        resource: str,
        on_page: OnPage,
        *,
        filters: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> int:
        """Walk a cursor listing to its end; `on_page(n, raw_bytes)` sees every page before parsing.

        `resource` is a key of `RESOURCE_PATHS` or a path. Returns the number of pages fetched.
        """
        path = RESOURCE_PATHS.get(resource, resource)
        query: list[tuple[str, str]] = [("per_page", str(self.per_page)), ("cursor", "")]
        query += [(f"filter[{name}]", value) for name, value in (filters or {}).items()]
        query += list((params or {}).items())
        pages = 0
        with self._client() as client:
            url: str | None = path
            current_params: list[tuple[str, str]] | None = query
            while url:
                response = send_with_retries(client, "GET", url, settings=self._settings, params=current_params, sleep=sleep)
                pages += 1
                on_page(pages, response.content)
                try:
                    body = json.loads(response.content)
                    next_url = (body.get("links") or {}).get("next")
                except (ValueError, AttributeError) as exc:
                    raise ApiError(response.status_code, f"page {pages} of {path} is not a JSON listing") from exc
                if next_url and not self._same_origin(next_url):
                    raise ApiError(None, "links.next points to another host; refusing to send the token there")
                url, current_params = next_url, None  # links.next already carries every parameter
        return pages

    def fetch_one(self, path: str, on_page: OnPage, *, params: Mapping[str, str] | None = None,
                  sleep: Callable[[float], None] = time.sleep) -> Any:
        """GET a single document (a read or a sub-resource); lands it through `on_page(1, raw)` and returns it parsed."""
        with self._client() as client:
            response = send_with_retries(client, "GET", path, settings=self._settings,
                                         params=list((params or {}).items()), sleep=sleep)
        on_page(1, response.content)
        try:
            return json.loads(response.content)
        except ValueError as exc:
            raise ApiError(response.status_code, f"{path} did not answer JSON") from exc
