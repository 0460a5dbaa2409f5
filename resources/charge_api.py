"""OAuth 2.0 client-credentials token client of the Charge API (seed 000) as a Dagster resource.

The Charge API accepts charges only with a bearer token obtained from its token endpoint with the
`client_credentials` grant and the scope `chargepass.homecharge.charge.write`. This resource fetches that
token, caches it until shortly before `expires_in` runs out and hands out `Authorization` headers. The
client id and secret come from the environment (`dg.EnvVar`); neither they nor the token are logged or
put into error messages. The charge export asset itself belongs to a later issue.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import dagster as dg
import httpx
from pydantic import PrivateAttr

from resources.platform_api import ApiError, RetrySettings, send_with_retries

DEFAULT_SCOPE = "chargepass.homecharge.charge.write"


class ChargeApiResource(dg.ConfigurableResource):
    """Token client for the Charge API; `auth_headers()` is what a caller of the charge endpoints needs."""

    token_url: str
    base_url: str
    client_id: str
    client_secret: str
    scope: str = DEFAULT_SCOPE
    expiry_margin_seconds: float = 60.0
    timeout_seconds: float = 30.0
    max_retries: int = 4
    backoff_seconds: float = 1.0

    _token: str | None = PrivateAttr(default=None)
    _expires_at: float = PrivateAttr(default=0.0)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _clock: Callable[[], float] = PrivateAttr(default=time.monotonic)

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

    def invalidate(self) -> None:
        """Forget the cached token (after the API answered 401 to it)."""
        with self._lock:
            self._token, self._expires_at = None, 0.0

    def _request_token(self) -> tuple[str, float]:
        form = {"grant_type": "client_credentials", "scope": self.scope,
                "client_id": self.client_id, "client_secret": self.client_secret}
        settings = RetrySettings(self.max_retries, self.backoff_seconds, 30.0)
        with httpx.Client(timeout=self.timeout_seconds) as client:
            try:
                response = send_with_retries(client, "POST", self.token_url, settings=settings, form_body=form)
            except ApiError as exc:
                raise ApiError(exc.status, f"token request refused ({exc.message})") from None
        body = response.json()
        token, lifetime = body.get("access_token"), body.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(lifetime, (int, float)) or lifetime <= 0:
            raise ApiError(response.status_code, "token response lacks access_token or expires_in")
        if str(body.get("token_type", "Bearer")).lower() != "bearer":
            raise ApiError(response.status_code, f"unsupported token_type {body.get('token_type')!r}")
        return token, float(lifetime)
