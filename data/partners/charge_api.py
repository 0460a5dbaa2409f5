"""The demo's local Charge API partner receiver: a stand-in for the real Charge API, following seed 000 (the
"Charge API" Postman collection), shapes as in docs/charge-api.md.

`make demo` (pipelines/demo.py) sends the settled home charges to this receiver on 127.0.0.1, since the demo
has no real partner to deliver to; the tests use the same class (re-exported as `tests.standins.charge_api`)
to exercise the export client against a faithful loopback server. It is demo and test infrastructure, not a
production receiver: it keeps everything in memory.

Implements, over real HTTP on 127.0.0.1:
- the OAuth 2.0 token endpoint `POST /oauth2/<auth server>/v1/token` with the `client_credentials` grant
  (form fields `grant_type`, `scope`, `client_id`, `client_secret`, or the client pair as HTTP Basic);
  answers `{"token_type": "Bearer", "expires_in", "access_token", "scope"}` or an RFC 6749 error document
  (`invalid_client` 401, `unsupported_grant_type`/`invalid_scope` 400);
- `POST /dataProvider.charges.add` and `/dataProvider.charges.addWithIntervals` with the bearer token
  (401 without a valid one): the request is validated as a whole; if any charge breaks a rule the answer
  is 400 `{"message", "errors": [...]}` and *nothing* is stored, as the seed states. Otherwise each charge
  gets `status` `Success`, or `Duplicate` when its (`chargeExternalId`, `chargePointExternalId`) pair was
  stored before (a duplicate is ignored, not overwritten).

Validation rules (one message per broken rule, naming the charge's index and id): both ids present;
`startDateTime`/`endDateTime` ISO 8601 UTC with end not before start; `consumptionKwh` a number >= 0; on
`addWithIntervals` a non-empty `intervals` array, each interval inside the charge, at most 30 minutes, not
overlapping, and together summing to the total (±0.0005 kWh per interval); on `add`, no `intervals`. A test
can add receiver-side rules the client cannot know (`reject(chargeExternalId, message)`).

Faults for tests: everything `StandinServer.inject` offers (a status such as 429 with `Retry-After`, 5xx, a
delay); `expire_tokens()` / `expire_tokens_after(n)` (every issued token stops working, now or after n more
charge requests: token expiry mid-run); `die_after_receiving(n)`
(the next n charge requests are stored, then the connection is closed without an answer: the receiver
crashed between storing and answering).

Run: `CHARGE_API_CLIENT_ID=… CHARGE_API_CLIENT_SECRET=… python -m data.partners.charge_api --port 8803`.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import secrets
import threading
import time
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from data.partners.loopback import Request, Response, StandinServer, command_line

AUTH_SERVER = "ausa4dehw4Wb8CLSd417"
SCOPE = "chargepass.homecharge.charge.write"
MAX_INTERVAL = dt.timedelta(minutes=30)
SUM_TOLERANCE_PER_INTERVAL = Decimal("0.0005")


class _DropConnection(BaseException):
    """Raised inside a handler to close the connection without answering (BaseException: the base server
    turns every Exception into a 500)."""


def _utc(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value.endswith("Z"):
        return None
    try:
        return dt.datetime.fromisoformat(value[:-1] + "+00:00")
    except ValueError:
        return None


def _kwh(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() and number >= 0 else None


def charge_problems(charge: Any, with_intervals: bool) -> list[str]:
    """Every rule one charge breaks (empty when it is acceptable)."""
    if not isinstance(charge, dict):
        return ["must be an object"]
    problems = []
    if not charge.get("chargeExternalId") or not charge.get("chargePointExternalId"):
        problems.append("chargeExternalId and chargePointExternalId are required")
    start, end = _utc(charge.get("startDateTime")), _utc(charge.get("endDateTime"))
    if start is None or end is None:
        problems.append("startDateTime and endDateTime must be ISO 8601 UTC timestamps (…Z)")
    elif end < start:
        problems.append("endDateTime is before startDateTime")
    total = _kwh(charge.get("consumptionKwh"))
    if total is None:
        problems.append("consumptionKwh must be a number >= 0")
    intervals = charge.get("intervals")
    if not with_intervals:
        if intervals is not None:
            problems.append("intervals are not accepted on charges.add; use charges.addWithIntervals")
        return problems
    if not isinstance(intervals, list) or not intervals:
        return problems + ["intervals must be a non-empty array"]
    spans, energy = [], Decimal(0)
    for j, interval in enumerate(intervals):
        i_start = _utc(interval.get("startDateTime")) if isinstance(interval, dict) else None
        i_end = _utc(interval.get("endDateTime")) if isinstance(interval, dict) else None
        i_kwh = _kwh(interval.get("consumptionKwh")) if isinstance(interval, dict) else None
        if i_start is None or i_end is None or i_kwh is None:
            problems.append(f"intervals[{j}] needs startDateTime, endDateTime (UTC) and consumptionKwh >= 0")
            continue
        if i_end <= i_start or i_end - i_start > MAX_INTERVAL:
            problems.append(f"intervals[{j}] must last more than 0 and at most 30 minutes")
        if start is not None and end is not None and (i_start < start or i_end > end):
            problems.append(f"intervals[{j}] lies outside the charge")
        spans.append((i_start, i_end))
        energy += i_kwh
    spans.sort()
    if any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:])):
        problems.append("intervals overlap")
    if total is not None and abs(energy - total) > SUM_TOLERANCE_PER_INTERVAL * len(intervals):
        problems.append(f"intervals sum to {energy} kWh, not consumptionKwh {total}")
    return problems


class ChargeApiStandin(StandinServer):
    """Token endpoint and charge submission of the Charge API."""

    def __init__(self, client_id: str, client_secret: str, *, host: str = "127.0.0.1", port: int = 0,
                 token_lifetime_seconds: int = 3600, rate_limit: int | None = None,
                 retry_after_seconds: int | None = None) -> None:
        super().__init__(host, port, rate_limit=rate_limit, retry_after_seconds=retry_after_seconds)
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime_seconds = token_lifetime_seconds
        self.tokens: dict[str, float] = {}  # access token -> expiry (epoch seconds)
        self.received: dict[tuple[str, str], dict[str, Any]] = {}  # the stored charges, first version wins
        self.answers: list[dict[tuple[str, str], str]] = []  # per accepted request: key -> status
        self.rejections: dict[str, str] = {}  # chargeExternalId -> receiver-side rule message
        self._die_after_receiving = 0
        self._expire_after: int | None = None
        self._store_lock = threading.Lock()
        self.route("POST", rf"/oauth2/{AUTH_SERVER}/v1/token", self._token)
        self.route("POST", r"/dataProvider\.charges\.add", lambda request: self._add(request, False))
        self.route("POST", r"/dataProvider\.charges\.addWithIntervals", lambda request: self._add(request, True))

    # -- faults ----------------------------------------------------------------------------------
    def expire_tokens(self) -> None:
        """Every token issued so far stops working now (the client must fetch a new one)."""
        with self._store_lock:
            self.tokens = {token: 0.0 for token in self.tokens}

    def expire_tokens_after(self, requests: int) -> None:
        """Every token stops working once `requests` more charge requests have been answered."""
        self._expire_after = requests

    def die_after_receiving(self, requests: int = 1) -> None:
        """The next `requests` charge requests are stored, then the connection closes without an answer."""
        self._die_after_receiving += requests

    def reject(self, charge_external_id: str, message: str) -> None:
        """A receiver-side rule: any request holding this charge is refused with 400 and `message`."""
        self.rejections[charge_external_id] = message

    # -- endpoints -------------------------------------------------------------------------------
    @property
    def token_url(self) -> str:
        """Where clients obtain tokens."""
        return f"{self.url}/oauth2/{AUTH_SERVER}/v1/token"

    def authenticate(self, request: Request) -> Response | None:
        """The token endpoint authenticates by client credentials; everything else by bearer token."""
        if request.path.endswith("/v1/token"):
            return None
        header = request.headers.get("authorization", "")
        token = header[len("Bearer "):] if header.startswith("Bearer ") else ""
        if self.tokens.get(token, 0) <= time.time():
            return Response(401, {"message": "Unauthorized"})
        return None

    def _token(self, request: Request) -> Response:
        form = dict(parse_qsl(request.body.decode()))
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        basic = request.headers.get("authorization", "")
        if basic.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(basic[6:]).decode().partition(":")
        if form.get("grant_type") != "client_credentials":
            return Response(400, {"error": "unsupported_grant_type",
                                  "error_description": "The authorization grant type is not supported."})
        if client_id != self.client_id or client_secret != self.client_secret:
            return Response(401, {"error": "invalid_client", "error_description": "Client authentication failed."})
        if form.get("scope", SCOPE) != SCOPE:
            return Response(400, {"error": "invalid_scope", "error_description": "The requested scope is invalid."})
        token = secrets.token_urlsafe(24)
        with self._store_lock:
            self.tokens[token] = time.time() + self.token_lifetime_seconds
        return Response(200, {"token_type": "Bearer", "expires_in": self.token_lifetime_seconds,
                              "access_token": token, "scope": SCOPE})

    def _add(self, request: Request, with_intervals: bool) -> Response:
        try:
            charges = request.json().get("charges")
        except (ValueError, AttributeError):
            return Response(400, {"message": "Request body must be a JSON object with `charges`."})
        if not isinstance(charges, list) or not charges:
            return Response(400, {"message": "`charges` must be a non-empty array."})
        errors = []
        for i, charge in enumerate(charges):
            ref = f"charges[{i}]" + (f" ({charge.get('chargeExternalId')})" if isinstance(charge, dict) else "")
            errors += [f"{ref}: {problem}" for problem in charge_problems(charge, with_intervals)]
            if isinstance(charge, dict) and str(charge.get("chargeExternalId")) in self.rejections:
                errors.append(f"{ref}: {self.rejections[str(charge['chargeExternalId'])]}")
        if errors:
            return Response(400, {"message": "Validation failed; no charge was ingested.", "errors": errors})
        results, answer = [], {}
        with self._store_lock:
            for charge in charges:
                key = (str(charge["chargeExternalId"]), str(charge["chargePointExternalId"]))
                status = "Duplicate" if key in self.received else "Success"
                self.received.setdefault(key, charge)
                answer[key] = status
                results.append({"chargeExternalId": key[0], "chargePointExternalId": key[1], "status": status})
            self.answers.append(answer)
            dying = self._die_after_receiving > 0
            self._die_after_receiving -= int(dying)
            if self._expire_after is not None:
                self._expire_after -= 1
                if self._expire_after <= 0:
                    self._expire_after = None
                    self.tokens = {token: 0.0 for token in self.tokens}
        if dying:
            raise _DropConnection()
        return Response(200, {"charges": results})

    def _handler_class(self) -> type:
        base = super()._handler_class()

        class _Handler(base):  # type: ignore[misc, valid-type]
            def _serve_or_die(self) -> None:
                try:
                    base._serve(self)
                except _DropConnection:
                    self.close_connection = True  # no status line: the client sees the connection drop

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve_or_die

        return _Handler


def main() -> None:
    """Command-line entry point."""
    def extra(parser: Any) -> None:
        parser.add_argument("--client-id", default=os.environ.get("CHARGE_API_CLIENT_ID"))
        parser.add_argument("--client-secret", default=os.environ.get("CHARGE_API_CLIENT_SECRET"))

    def build(args: Any) -> StandinServer:
        if not args.client_id or not args.client_secret:
            raise SystemExit("set $CHARGE_API_CLIENT_ID and $CHARGE_API_CLIENT_SECRET")
        return ChargeApiStandin(args.client_id, args.client_secret, host=args.host, port=args.port)

    command_line("Charge API (seed 000) token and charges stand-in", build, extra)


if __name__ == "__main__":
    main()
