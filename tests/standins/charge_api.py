"""Charge API stand-in (seed 000, the "Charge API" Postman collection).

Implements, over real HTTP on 127.0.0.1:
- the OAuth 2.0 token endpoint `POST /oauth2/<auth server>/v1/token` with the `client_credentials` grant
  (form fields `grant_type`, `scope`, `client_id`, `client_secret`, or the client pair as HTTP Basic);
  answers `{"token_type": "Bearer", "expires_in", "access_token", "scope"}` or an RFC 6749 error document
  (`invalid_client` 401, `unsupported_grant_type`/`invalid_scope` 400);
- `POST /dataProvider.charges.add` and `/dataProvider.charges.addWithIntervals` with the bearer token:
  each charge gets `status` `Success`, or `Duplicate` when its (`chargeExternalId`,
  `chargePointExternalId`) pair was sent before; a charge without those ids rejects the whole request
  with 400 and nothing is stored, as the seed states;
- tokens expire after `token_lifetime_seconds` (401 afterwards).

Run: `CHARGE_API_CLIENT_ID=… CHARGE_API_CLIENT_SECRET=… python -m tests.standins.charge_api --port 8803`.
"""

from __future__ import annotations

import base64
import os
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl

from tests.standins.base import Request, Response, StandinServer, command_line

AUTH_SERVER = "ausa4dehw4Wb8CLSd417"
SCOPE = "chargepass.homecharge.charge.write"


class ChargeApiStandin(StandinServer):
    """Token endpoint and charge submission of the Charge API."""

    def __init__(self, client_id: str, client_secret: str, *, host: str = "127.0.0.1", port: int = 0,
                 token_lifetime_seconds: int = 3600) -> None:
        super().__init__(host, port)
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime_seconds = token_lifetime_seconds
        self.tokens: dict[str, float] = {}  # access token -> expiry (epoch seconds)
        self.received: dict[tuple[str, str], dict[str, Any]] = {}
        self.route("POST", rf"/oauth2/{AUTH_SERVER}/v1/token", self._token)
        self.route("POST", r"/dataProvider\.charges\.add", self._add)
        self.route("POST", r"/dataProvider\.charges\.addWithIntervals", self._add)

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
        self.tokens[token] = time.time() + self.token_lifetime_seconds
        return Response(200, {"token_type": "Bearer", "expires_in": self.token_lifetime_seconds,
                              "access_token": token, "scope": SCOPE})

    def _add(self, request: Request) -> Response:
        try:
            charges = request.json().get("charges")
        except (ValueError, AttributeError):
            return Response(400, {"message": "Request body must be a JSON object with `charges`."})
        if not isinstance(charges, list) or not charges:
            return Response(400, {"message": "`charges` must be a non-empty array."})
        errors = [f"charges[{i}]: chargeExternalId and chargePointExternalId are required"
                  for i, c in enumerate(charges)
                  if not isinstance(c, dict) or not c.get("chargeExternalId") or not c.get("chargePointExternalId")]
        if errors:
            return Response(400, {"message": "Validation failed; no charge was ingested.", "errors": errors})
        results = []
        for charge in charges:
            key = (str(charge["chargeExternalId"]), str(charge["chargePointExternalId"]))
            status = "Duplicate" if key in self.received else "Success"
            self.received.setdefault(key, charge)
            results.append({"chargeExternalId": key[0], "chargePointExternalId": key[1], "status": status})
        return Response(200, {"charges": results})


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
