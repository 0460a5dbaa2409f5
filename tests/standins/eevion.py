"""Eevion API stand-in (seed 003, Hypercharge's Postman collection).

Implements, over real HTTP on 127.0.0.1, under `/api/eevion`:
- auth with the API key as a bearer token (the collection's `auth: bearer {{apiKey}}`); a wrong key gets
  401 with Eevion's error document `{"result": "error", "error": ..., "message": ...}`;
- `POST /session` listing: optional body `{updatedOnOrAfter (ms), limit (default 500), offset (0-based),
  sites[], stations[]}`; the answer is a bare JSON array (as in the seed's example);
- `GET /session/{sessionId}` (400 `invalidRequest` for an unknown id, as the seed shows);
- `POST /session/report` with `startTimestamp`/`endTimestamp` (ms), `groupBy` (station, site, region),
  `sites[]`, `stations[]`, `regions[]` → per-group rows plus the `total` and `average` rows;
- the documented limit of 60 requests per 60 s per key (429), and injectable faults;
- `fire_session_complete(url, session_id)`: POSTs the session body to a `webhookOnSessionComplete` URL.

Run: `EEVION_API_KEY=… python -m tests.standins.eevion --port 8802 --sessions 40`.
"""

from __future__ import annotations

import copy
import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from tests.standins.base import Request, Response, StandinServer, command_line

PREFIX = "/api/eevion"
BASE_TIME = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class WebhookDelivery:
    """The receiver's answer to one webhook POST."""

    status_code: int
    body: bytes


def _ms(moment: str) -> int:
    return int(datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp() * 1000)


def iso_ms(moment: datetime) -> str:
    """Eevion's timestamp form: milliseconds and a Z suffix."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def make_session(index: int, *, updated_at: datetime | None = None, complete: bool = True) -> dict[str, Any]:
    """A session in the seed's field reference shape; costs are tax-inclusive with 13 % HST."""
    start = BASE_TIME + timedelta(minutes=17 * index)
    duration = 3600 + 60 * (index % 30)
    end = start + timedelta(seconds=duration)
    energy = 9000 + 37 * index
    before_tax = round(energy / 1000 * 0.3, 2)
    tax = round(before_tax * 0.13, 2)
    site = index % 2
    session: dict[str, Any] = {
        "authId": f"auth{index:05d}", "cost": round(before_tax + tax, 2) if complete else 0,
        "costBeforeTaxes": before_tax if complete else 0, "createdAt": iso_ms(start - timedelta(seconds=3)),
        "currency": "CAD", "currentIdleFee": 0, "customerId": f"cust{index % 4:04d}", "demandResponse": [],
        "duration": duration if complete else 0, "endPercentageFilled": None,
        "endReason": "EVDisconnected" if complete else "", "endTime": iso_ms(end) if complete else "",
        "energy": energy, "gracePeriodElapsedSeconds": 0, "isIdle": False, "isInGracePeriod": False,
        "location": [
            {"name": "Hypercharge North Vancouver", "id": "6419fc792a36c883f7a7947d", "city": "North Vancouver",
             "country": "CAN", "lat": 49.3176, "long": -123.1038, "state": "BC", "street": " West 1st Street",
             "streetNum": "1075", "zip": "V7P 3T4", "timeZone": "America/Vancouver"},
            {"name": "Radisson Hotel Blu Downtown Toronto", "id": "6511d259fa0789d00b928ffe", "city": "Toronto",
             "country": "CAN", "lat": 43.6387, "long": -79.3858, "state": "ON", "street": " Queens Quay West",
             "streetNum": "249", "zip": "M5J 2N5", "timeZone": "America/Toronto"},
        ][site],
        "portId": f"port-{index % 6}", "sessionId": f"66{index:022x}", "sessionLimits": {},
        "startPercentageFilled": None, "startTime": iso_ms(start), "startWith": ["Card", "iOS", "Eevion"][index % 3],
        "stationId": str(2222 + index % 6), "stationStatus": "Available" if complete else "Charging",
        "status": "complete" if complete else "charging",
        "tariff": {"type": "kwh", "price": 0.3, "paymentCycleUnit": "hour", "priceIncrement": 0,
                   "occupancyFee": {"minPrice": 0, "maxPrice": 0, "price": 0, "unit": "hour", "isActive": False},
                   "id": "655fb8dbe3a4efc253eada3e", "name": "$0.30/kWh", "isPrivate": False},
        "taxIncluded": True,
        "taxes": [{"amount": tax, "description": "TVH/HST 13% #783700537RT0001"}] if complete else [],
        "updatedAt": iso_ms(updated_at or (end + timedelta(seconds=1) if complete else start)),
        "vehicle": "Tesla Model S 2016",
    }
    return session


class EevionStandin(StandinServer):
    """The Eevion API over loopback; `sessions` is the server's state, in creation order."""

    def __init__(self, api_key: str, *, host: str = "127.0.0.1", port: int = 0, rate_limit: int = 60,
                 rate_window_seconds: float = 60.0, retry_after_seconds: int | None = None) -> None:
        super().__init__(host, port, rate_limit, rate_window_seconds, retry_after_seconds)
        self.api_key = api_key
        self.sessions: list[dict[str, Any]] = []
        self.route("POST", PREFIX + r"/session", self._list_sessions)
        self.route("POST", PREFIX + r"/session/report", self._report)
        self.route("GET", PREFIX + r"/session/(?P<id>[^/]+)", self._get_session)

    def authenticate(self, request: Request) -> Response | None:
        """The API key travels as `Authorization: Bearer <apiKey>`."""
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return Response(401, {"result": "error", "error": "unauthorized", "message": "Invalid API key"})
        return None

    def too_many_requests_body(self) -> Any:
        return {"result": "error", "error": "rateLimited", "message": "Too many requests"}

    def not_found(self, request: Request) -> Response:
        return Response(404, {"result": "error", "error": "notFound", "message": "Not found"})

    @staticmethod
    def _invalid(message: str) -> Response:
        return Response(400, {"result": "error", "error": "invalidRequest", "message": message})

    def _list_sessions(self, request: Request) -> Response:
        try:
            body = request.json()
        except ValueError:
            return self._invalid("Body is not valid JSON")
        if "stationId" in body:
            # a body naming one station is the "Start a session" call, which this stand-in does not offer
            return self._invalid("Could not start the session")
        limit, offset = body.get("limit", 500), body.get("offset", 0)
        since = body.get("updatedOnOrAfter")
        if not isinstance(limit, int) or not isinstance(offset, int) or limit < 1 or offset < 0 or (
                since is not None and not isinstance(since, int)):
            return self._invalid("limit, offset and updatedOnOrAfter must be non-negative integers")
        selected = [s for s in self.sessions if since is None or _ms(s["updatedAt"]) >= since]
        if body.get("sites"):
            selected = [s for s in selected if s["location"]["id"] in body["sites"]]
        if body.get("stations"):
            selected = [s for s in selected if s["stationId"] in body["stations"]]
        # a stable order (updatedAt, then id) makes offset paging repeatable
        selected.sort(key=lambda s: (_ms(s["updatedAt"]), s["sessionId"]))
        return Response(200, copy.deepcopy(selected[offset: offset + limit]))

    def _get_session(self, request: Request) -> Response:
        for session in self.sessions:
            if session["sessionId"] == request.path_params["id"]:
                return Response(200, copy.deepcopy(session))
        return self._invalid("That session does not exist")

    def _report(self, request: Request) -> Response:
        body = request.json()
        start, end = body.get("startTimestamp"), body.get("endTimestamp")
        if not isinstance(start, int) or not isinstance(end, int) or end <= start:
            return self._invalid("startTimestamp and endTimestamp are required, end after start")
        group_by = body.get("groupBy", "station")
        key_of = {"station": lambda s: s["stationId"], "site": lambda s: s["location"]["id"],
                  "region": lambda s: s["location"]["state"]}.get(group_by)
        if key_of is None:
            return self._invalid("groupBy must be station, site or region")
        chosen = [s for s in self.sessions if s["status"] == "complete" and start <= _ms(s["startTime"]) < end]
        for name, field in (("sites", lambda s: s["location"]["id"]), ("stations", lambda s: s["stationId"]),
                            ("regions", lambda s: s["location"]["state"])):
            if body.get(name):
                chosen = [s for s in chosen if field(s) in body[name]]
        groups: dict[str, list[dict[str, Any]]] = {}
        for session in chosen:
            groups.setdefault(key_of(session), []).append(session)
        rows = []
        for key in sorted(groups):
            items = groups[key]
            cost = sum(round(s["cost"] * 100) for s in items)
            energy_cost = sum(round(s["costBeforeTaxes"] * 100) for s in items)
            duration = sum(s["duration"] for s in items)
            row = {
                "average_cost_cents": cost / len(items), "average_duration_seconds": duration / len(items),
                "cancel_count": 0, "count": len(items), "location": items[0]["location"]["name"],
                "location_id": items[0]["location"]["id"], "maximum_current_amps": 0, "maximum_limit_amps": 0,
                "maximum_power_watts": 0, "minimum_limit_amps": 0,
                "most_common_start_with": max(sorted({s["startWith"] for s in items}),
                                              key=lambda w: sum(s["startWith"] == w for s in items)),
                f"{group_by}_id" if group_by != "region" else "region": key,
                "total_cost_cents": cost, "total_duration_seconds": duration,
                "total_energy_cost_cents": energy_cost,
                "total_energy_watt_hours": sum(s["energy"] for s in items),
                "unique_customers": len({s["customerId"] for s in items}),
            }
            rows.append(row)
        id_key = f"{group_by}_id" if group_by != "region" else "region"
        totals = {k: sum(r[k] for r in rows) for k in ("cancel_count", "count", "total_cost_cents",
                                                        "total_duration_seconds", "total_energy_cost_cents",
                                                        "total_energy_watt_hours")}
        rows.append({**totals, id_key: "total"})
        if rows[:-1]:
            rows.append({**{k: v / len(rows[:-1]) for k, v in totals.items()}, id_key: "average"})
        return Response(200, rows)

    def fire_session_complete(self, webhook_url: str, session_id: str) -> WebhookDelivery:
        """POST the finished session to a `webhookOnSessionComplete` URL, as Hypercharge does.

        Sent with urllib rather than httpx: the sender is the external party, and httpx would log the
        secret URL into the test process's logs, which the secrets test inspects for *our* leaks.
        """
        session = next(s for s in self.sessions if s["sessionId"] == session_id)
        request = urllib.request.Request(webhook_url, data=json.dumps(session).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return WebhookDelivery(response.status, response.read())
        except urllib.error.HTTPError as error:
            return WebhookDelivery(error.code, error.read())

    def load_sample(self, sessions: int) -> "EevionStandin":
        """Fill the stand-in with deterministic sessions (every fifth one still charging)."""
        self.sessions.extend(make_session(i, complete=i % 5 != 4) for i in range(sessions))
        return self


def main() -> None:
    """Command-line entry point."""
    def extra(parser: Any) -> None:
        parser.add_argument("--api-key", default=os.environ.get("EEVION_API_KEY"),
                            help="the API key clients must present (default: $EEVION_API_KEY)")
        parser.add_argument("--sessions", type=int, default=40)

    def build(args: Any) -> StandinServer:
        if not args.api_key:
            raise SystemExit("set $EEVION_API_KEY (or pass --api-key)")
        return EevionStandin(args.api_key, host=args.host, port=args.port).load_sample(args.sessions)

    command_line("Eevion API (seed 003) stand-in", build, extra)


if __name__ == "__main__":
    main()
