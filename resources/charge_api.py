"""The Charge API (seed 000) as a Dagster resource: OAuth 2.0 client-credentials token and charge submission.

The Charge API accepts charges only with a bearer token obtained from its token endpoint with the
`client_credentials` grant and the scope `chargepass.homecharge.charge.write`. This resource:

- fetches that token, caches it until `expiry_margin_seconds` before `expires_in` runs out, and when the API
  answers 401 to a cached token (revoked, clock skew) fetches a new one and retries that request once;
- posts batches of charges to `/dataProvider.charges.add` or `/dataProvider.charges.addWithIntervals` and
  returns each charge's `status` (`Success` or `Duplicate`); a 400 (the whole request refused, nothing
  ingested) raises `BatchRejected` with the server's message so the caller can bisect the batch;
- retries 429, 5xx, timeouts and dropped connections with exponential backoff and jitter (tenacity),
  waiting what `Retry-After` asks on a 429/503. Re-sending charges is safe: the receiver answers
  `Duplicate` for a charge it already stored.

The client id and secret come from the environment (`dg.EnvVar`); neither they nor the token are logged or
put into error messages (only paths, status codes and counts are).
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import dagster as dg
import httpx
import orjson
from pydantic import PrivateAttr
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from resources.platform_api import ApiError

DEFAULT_SCOPE = "chargepass.homecharge.charge.write"
ADD = "/dataProvider.charges.add"
ADD_WITH_INTERVALS = "/dataProvider.charges.addWithIntervals"
ENDPOINTS = (ADD, ADD_WITH_INTERVALS)
DELIVERED_STATUSES = ("Success", "Duplicate")

log = dg.get_dagster_logger("charge_api")


class BatchRejected(Exception):
    """400: the receiver refused the whole request and ingested none of its charges."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Retryable(Exception):
    """A failure worth another attempt (429, 5xx, timeout, dropped connection)."""

    def __init__(self, problem: str, retry_after: float | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.retry_after = retry_after


def retry_after_seconds(response: httpx.Response, now: float | None = None) -> float | None:
    """`Retry-After` as seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def _error_message(response: httpx.Response) -> str:
    """The receiver's error text (`message`, then `errors`, then `error_description`), without our request."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if not isinstance(body, Mapping):
        return f"HTTP {response.status_code}"
    parts = [str(body[key]) for key in ("error", "error_description", "message") if body.get(key)]
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        parts.append("; ".join(str(e) for e in errors))
    return " - ".join(parts) or f"HTTP {response.status_code}"


def _json_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


class ChargeApiResource(dg.ConfigurableResource):
    """Charge API client: `send_charges(endpoint, charges)`; `auth_headers()` for any other call."""

    token_url: str
    base_url: str
    client_id: str
    client_secret: str
    scope: str = DEFAULT_SCOPE
    expiry_margin_seconds: float = 60.0
    timeout_seconds: float = 30.0
    max_retries: int = 6
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 60.0

    _token: str | None = PrivateAttr(default=None)
    _expires_at: float = PrivateAttr(default=0.0)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _clock: Callable[[], float] = PrivateAttr(default=time.monotonic)
    _sleep: Callable[[float], None] = PrivateAttr(default=time.sleep)
    _http: httpx.Client | None = PrivateAttr(default=None)
    _http_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    # -- token -----------------------------------------------------------------------------------
    def access_token(self) -> str:
        """A valid access token: the cached one, or a new one when it expires within the margin."""
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at - self.expiry_margin_seconds:
                self._token, lifetime = self._request_token()
                self._expires_at = self._clock() + lifetime
            return self._token

    def auth_headers(self) -> dict[str, str]:
        """`Authorization: Bearer …` for the charge endpoints."""
        return {"Authorization": f"Bearer {self.access_token()}"}

    def invalidate(self, token: str | None = None) -> None:
        """Forget the cached token (after the API answered 401 to it); a token already replaced stays."""
        with self._lock:
            if token is None or token == self._token:
                self._token, self._expires_at = None, 0.0

    def _request_token(self) -> tuple[str, float]:
        form = {"grant_type": "client_credentials", "scope": self.scope,
                "client_id": self.client_id, "client_secret": self.client_secret}
        try:
            response = self._with_retries(lambda: self._checked(self._client().post(self.token_url, data=form)))
        except ApiError as exc:
            raise ApiError(exc.status, f"token request refused ({exc.message})") from None
        body = response.json()
        token, lifetime = body.get("access_token"), body.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(lifetime, (int, float)) or lifetime <= 0:
            raise ApiError(response.status_code, "token response lacks access_token or expires_in")
        if str(body.get("token_type", "Bearer")).lower() != "bearer":
            raise ApiError(response.status_code, f"unsupported token_type {body.get('token_type')!r}")
        return token, float(lifetime)

    # -- charges ---------------------------------------------------------------------------------
    def send_charges(self, endpoint: str, charges: Sequence[Mapping[str, Any] | str]) -> dict[tuple[str, str], str]:
        """POST `{"charges": [...]}` to `endpoint`; (chargeExternalId, chargePointExternalId) -> status.

        A charge is a mapping or its JSON text (sent verbatim, so what the export log holds is what goes out).

        Raises `BatchRejected` on 400 (nothing was ingested), `ApiError` when retries are exhausted or the API
        answers another error. A charge missing from the answer is missing from the result too (its outcome is
        unknown; the caller keeps it pending and re-sends it).
        """
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown Charge API endpoint {endpoint!r}")
        url = self.base_url.rstrip("/") + endpoint
        items = [c if isinstance(c, str) else orjson.dumps(c).decode() for c in charges]
        body = ('{"charges":[' + ",".join(items) + "]}").encode()
        response = self._with_retries(lambda: self._post_authorized(url, body))
        try:
            answered = response.json().get("charges")
        except (ValueError, AttributeError):
            answered = None
        if not isinstance(answered, list):
            raise ApiError(response.status_code, f"POST {endpoint}: the answer has no `charges` array")
        statuses: dict[tuple[str, str], str] = {}
        for item in answered:
            if isinstance(item, Mapping) and item.get("status") in DELIVERED_STATUSES:
                statuses[(str(item.get("chargeExternalId")), str(item.get("chargePointExternalId")))] = item["status"]
        return statuses

    def _post_authorized(self, url: str, body: bytes) -> httpx.Response:
        """One POST with the bearer token; on 401 a fresh token and one more try, then give up."""
        token = self.access_token()
        response = self._client().post(url, content=body, headers=_json_headers(token))
        if response.status_code == 401:
            log.info("POST %s: token refused (401); fetching a new token and retrying once", urlsplit(url).path)
            self.invalidate(token)
            response = self._client().post(url, content=body, headers=_json_headers(self.access_token()))
        if response.status_code == 400:
            raise BatchRejected(_error_message(response))
        return self._checked(response)

    # -- plumbing --------------------------------------------------------------------------------
    def _checked(self, response: httpx.Response) -> httpx.Response:
        """The response if 2xx; `_Retryable` for 429/5xx; `ApiError` for any other status."""
        path = urlsplit(str(response.request.url)).path
        if response.status_code == 429 or response.status_code >= 500:
            wait = retry_after_seconds(response)
            log.warning("POST %s answered %d; will retry%s", path, response.status_code,
                        f" after {wait:.0f}s (Retry-After)" if wait is not None else "")
            raise _Retryable(f"HTTP {response.status_code}", wait)
        if response.status_code >= 400:
            raise ApiError(response.status_code, f"POST {path}: {_error_message(response)}")
        return response

    def _wait(self, retry_state: Any) -> float:
        """Retry-After when the server gave one, else exponential backoff with jitter; capped either way."""
        problem = retry_state.outcome.exception()
        if isinstance(problem, _Retryable) and problem.retry_after is not None:
            return min(self.max_backoff_seconds, problem.retry_after)
        return wait_exponential_jitter(multiplier=self.backoff_seconds, max=self.max_backoff_seconds)(retry_state)

    def _with_retries(self, call: Callable[[], httpx.Response]) -> httpx.Response:
        def attempt() -> httpx.Response:
            try:
                return call()
            except httpx.TimeoutException:
                raise _Retryable("timed out") from None
            except httpx.TransportError as exc:  # connection refused or dropped before the answer
                raise _Retryable(f"transport error {type(exc).__name__}") from None

        retrying = Retrying(retry=retry_if_exception_type(_Retryable), stop=stop_after_attempt(self.max_retries + 1),
                            wait=self._wait, sleep=self._sleep, reraise=True)
        try:
            return retrying(attempt)
        except _Retryable as exc:
            raise ApiError(None, f"gave up after {self.max_retries + 1} attempts: {exc.problem}") from None

    def _client(self) -> httpx.Client:
        # One keep-alive connection pool per resource instance; batches reuse it.
        with self._http_lock:
            if self._http is None:
                self._http = httpx.Client(timeout=self.timeout_seconds)
            return self._http

    def close(self) -> None:
        """Close the connection pool (a later call opens a new one)."""
        with self._http_lock:
            if self._http is not None:
                self._http.close()
                self._http = None

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.close()
