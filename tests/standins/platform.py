"""Platform API stand-in (seed 001, "Public API" v3.165.0; digest §1–§7).

Implements, over real HTTP on 127.0.0.1:
- bearer-token auth (`Authorization: Bearer <token>`; 401 `{"message": ...}` otherwise);
- cursor pagination: `cursor=` (empty) starts, `links.next` continues, `per_page` 1..100 (422 beyond);
  the cursor is opaque (base64 of the offset and a fingerprint of the filters);
- `GET /public-api/resources/cdrs/v2.0` with `filter[receivedAfter|sentAfter|isLocal|credit|roamingId]`;
- `GET /public-api/resources/sessions/v1.0` with `filter[lastUpdatedAfter]` and the `withChargingPeriods`,
  `withChargingPeriodsPriceBreakdown`, `withPriceBreakdown` switches, plus `…/{id}/consumption-stats`;
- `GET /public-api/resources/tariffs/v1.0`, `GET /public-api/resources/tariff-snapshots/v1.0/{id}`;
- `GET /public-api/resources/electricity-rates/v2.0` and `…/{id}/price-periods`;
- the 429 document with `X-RateLimit-*` headers and `Retry-After`, and injectable faults.

Run: `PLATFORM_API_TOKEN=… python -m tests.standins.platform --port 8801 --cdrs 250 --sessions 120`.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from tests.standins.base import Request, Response, StandinServer, command_line
from tests.standins import platform_data

PREFIX = "/public-api/resources"
TIME_FILTERS = {
    # filter name -> (record field, comparison); the spec says "equal to or later/earlier than"
    "receivedAfter": ("receivedAt", "ge"), "receivedBefore": ("receivedAt", "le"),
    "sentAfter": ("sentAt", "ge"), "sentBefore": ("sentAt", "le"),
    "lastUpdatedAfter": ("lastUpdatedAt", "ge"), "lastUpdatedBefore": ("lastUpdatedAt", "le"),
    "startedAfter": ("startedAt", "ge"), "startedBefore": ("startedAt", "le"),
}


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class PlatformStandin(StandinServer):
    """The platform API over loopback; tests put records into the public lists before or while serving."""

    def __init__(self, token: str, *, host: str = "127.0.0.1", port: int = 0, rate_limit: int | None = None,
                 rate_window_seconds: float = 60.0, retry_after_seconds: int | None = None) -> None:
        super().__init__(host, port, rate_limit, rate_window_seconds, retry_after_seconds)
        self.token = token
        self.cdrs: list[dict[str, Any]] = []
        self.sessions: list[dict[str, Any]] = []
        self.consumption_stats: dict[str, list[dict[str, Any]]] = {}
        self.tariffs: list[dict[str, Any]] = []
        self.tariff_snapshots: dict[int, dict[str, Any]] = {}
        self.electricity_rates: list[dict[str, Any]] = []
        self.route("GET", PREFIX + r"/cdrs/v2\.0", self._list_cdrs)
        self.route("GET", PREFIX + r"/cdrs/v2\.0/(?P<id>\d+)", self._read_cdr)
        self.route("GET", PREFIX + r"/sessions/v1\.0", self._list_sessions)
        self.route("GET", PREFIX + r"/sessions/v1\.0/(?P<id>[^/]+)/consumption-stats", self._consumption_stats)
        self.route("GET", PREFIX + r"/tariffs/v1\.0", self._list_tariffs)
        self.route("GET", PREFIX + r"/tariff-snapshots/v1\.0/(?P<id>\d+)", self._read_snapshot)
        self.route("GET", PREFIX + r"/electricity-rates/v2\.0", self._list_rates)
        self.route("GET", PREFIX + r"/electricity-rates/v2\.0/(?P<id>\d+)/price-periods", self._price_periods)

    # -- auth and errors --------------------------------------------------------------------------
    def authenticate(self, request: Request) -> Response | None:
        """Bearer API token, applied globally (digest §1.1)."""
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Response(401, {"message": "Unauthenticated."})
        return None

    def too_many_requests_body(self) -> Any:
        return {"message": "Too Many Attempts."}

    # -- pagination -----------------------------------------------------------------------------
    @staticmethod
    def _filters(request: Request) -> dict[str, str]:
        return {key[len("filter["):-1]: value for key, value in request.query
                if key.startswith("filter[") and key.endswith("]")}

    def _page(self, request: Request, records: list[dict[str, Any]]) -> Response:
        """Cut one cursor page out of the already filtered, stably ordered records."""
        try:
            per_page = int(request.query_value("per_page", "100") or "100")
        except ValueError:
            per_page = -1
        if not 1 <= per_page <= 100:
            return Response(422, {"message": "The per page field must be between 1 and 100.",
                                  "errors": {"per_page": ["The per page field must be between 1 and 100."]}})
        fingerprint = hashlib.sha1(json.dumps(sorted(self._filters(request).items())).encode()).hexdigest()[:8]
        cursor = request.query_value("cursor", "") or ""
        offset = 0
        if cursor:
            try:
                decoded = json.loads(base64.urlsafe_b64decode(cursor.encode()))
                offset = int(decoded["o"])
                if decoded["f"] != fingerprint:
                    raise ValueError("cursor belongs to other filters")
            except (ValueError, KeyError, TypeError):
                return Response(400, {"message": "Invalid cursor."})
        chunk = records[offset: offset + per_page]
        path = f"{self.url}{request.path}"

        def link(new_offset: int) -> str:
            token = base64.urlsafe_b64encode(json.dumps({"o": new_offset, "f": fingerprint}).encode()).decode()
            params = [(k, v) for k, v in request.query if k != "cursor"] + [("cursor", token)]
            return f"{path}?{urlencode(params)}"

        next_link = link(offset + per_page) if offset + per_page < len(records) else None
        prev_link = link(max(0, offset - per_page)) if offset > 0 else None
        body = {
            "data": chunk,
            "links": {"first": link(0), "last": None, "prev": prev_link, "next": next_link},
            "meta": {"path": path, "per_page": per_page,
                     "next_cursor": next_link.rsplit("cursor=", 1)[1] if next_link else None,
                     "prev_cursor": prev_link.rsplit("cursor=", 1)[1] if prev_link else None},
        }
        return Response(200, body)

    @staticmethod
    def _apply_filters(records: list[dict[str, Any]], filters: dict[str, str]) -> list[dict[str, Any]] | Response:
        selected = records
        for name, value in filters.items():
            if name in TIME_FILTERS:
                field, op = TIME_FILTERS[name]
                try:
                    bound = _parse_time(value)
                except ValueError:
                    return Response(422, {"message": "The given data was invalid.",
                                          "errors": {f"filter.{name}": [f"The filter.{name} is not a valid date."]}})
                selected = [r for r in selected if r.get(field) and (
                    _parse_time(r[field]) >= bound if op == "ge" else _parse_time(r[field]) <= bound)]
            elif name in ("isLocal", "credit"):
                wanted = value.lower() in ("1", "true")
                selected = [r for r in selected if bool(r.get(name)) == wanted]
            elif name in ("roamingId", "sessionId"):
                selected = [r for r in selected if str(r.get(name)) == value]
            else:
                return Response(400, {"message": f"Unsupported filter {name}."})
        return selected

    # -- resources ------------------------------------------------------------------------------
    def _sorted_cdrs(self) -> list[dict[str, Any]]:
        # re-sorting 50 000 CDRs on every page would make the stand-in, not the client, the bottleneck
        stamp = (id(self.cdrs), len(self.cdrs))
        if getattr(self, "_cdr_cache", (None, None))[0] != stamp:
            self._cdr_cache = (stamp, sorted(self.cdrs, key=lambda r: r["id"]))
        return self._cdr_cache[1]

    def _list_cdrs(self, request: Request) -> Response:
        if not request.has_query("cursor"):
            # cdrs v2.0 is cursor-only (digest §1.2)
            return Response(400, {"message": "This listing supports cursor pagination only."})
        selected = self._apply_filters(self._sorted_cdrs(), self._filters(request))
        return selected if isinstance(selected, Response) else self._page(request, selected)

    def _read_cdr(self, request: Request) -> Response:
        for cdr in self.cdrs:
            if str(cdr["id"]) == request.path_params["id"]:
                return Response(200, {"data": cdr})
        return Response(404, {"message": "Not Found."})

    def _list_sessions(self, request: Request) -> Response:
        selected = self._apply_filters(sorted(self.sessions, key=lambda r: int(r["id"])), self._filters(request))
        if isinstance(selected, Response):
            return selected
        flag = lambda name: (request.query_value(name, "false") or "").lower() in ("1", "true")  # noqa: E731
        shaped = []
        for session in selected:
            item = copy.deepcopy(session)
            if not flag("withChargingPeriods"):
                item.pop("chargingPeriods", None)
            elif not flag("withChargingPeriodsPriceBreakdown"):
                for period in item.get("chargingPeriods", []):
                    period.pop("priceBreakdown", None)
            if not flag("withPriceBreakdown"):
                item.pop("priceBreakdown", None)
            shaped.append(item)
        return self._page(request, shaped)

    def _consumption_stats(self, request: Request) -> Response:
        session_id = request.path_params["id"]
        if session_id not in self.consumption_stats:
            return Response(404, {"message": "Not Found."})
        return Response(200, {"data": self.consumption_stats[session_id]})

    def _list_tariffs(self, request: Request) -> Response:
        selected = self._apply_filters(sorted(self.tariffs, key=lambda r: r["id"]), self._filters(request))
        return selected if isinstance(selected, Response) else self._page(request, selected)

    def _read_snapshot(self, request: Request) -> Response:
        snapshot = self.tariff_snapshots.get(int(request.path_params["id"]))
        return Response(200, {"data": snapshot}) if snapshot else Response(404, {"message": "Not Found."})

    def _list_rates(self, request: Request) -> Response:
        public = [{k: v for k, v in rate.items() if not k.startswith("_")} for rate in self.electricity_rates]
        selected = self._apply_filters(sorted(public, key=lambda r: r["id"]), self._filters(request))
        return selected if isinstance(selected, Response) else self._page(request, selected)

    def _price_periods(self, request: Request) -> Response:
        for rate in self.electricity_rates:
            if str(rate["id"]) == request.path_params["id"]:
                return Response(200, {"data": rate.get("_pricePeriods", [])})
        return Response(404, {"message": "Not Found."})

    # -- sample data -------------------------------------------------------------------------------
    def load_sample(self, cdrs: int = 0, sessions: int = 0) -> "PlatformStandin":
        """Fill the stand-in with deterministic sample records (see `platform_data`)."""
        self.cdrs.extend(platform_data.make_cdr(i, is_local=i % 3 != 0) for i in range(cdrs))
        for i in range(sessions):
            session = platform_data.make_session(i)
            self.sessions.append(session)
            self.consumption_stats[session["id"]] = platform_data.make_consumption_stats(session)
        self.tariffs.extend(platform_data.sample_tariffs())
        snapshot = platform_data.sample_tariff_snapshot()
        self.tariff_snapshots[snapshot["id"]] = snapshot
        self.electricity_rates.extend(platform_data.sample_electricity_rates())
        return self


def main() -> None:
    """Command-line entry point."""
    def extra(parser: Any) -> None:
        parser.add_argument("--token", default=os.environ.get("PLATFORM_API_TOKEN"),
                            help="the bearer token clients must present (default: $PLATFORM_API_TOKEN)")
        parser.add_argument("--cdrs", type=int, default=50)
        parser.add_argument("--sessions", type=int, default=20)
        parser.add_argument("--rate-limit", type=int, default=None, help="requests per minute per token")

    def build(args: Any) -> StandinServer:
        if not args.token:
            raise SystemExit("set $PLATFORM_API_TOKEN (or pass --token)")
        return PlatformStandin(args.token, host=args.host, port=args.port, rate_limit=args.rate_limit).load_sample(
            cdrs=args.cdrs, sessions=args.sessions)

    command_line("Platform API (seed 001) stand-in", build, extra)


if __name__ == "__main__":
    main()
