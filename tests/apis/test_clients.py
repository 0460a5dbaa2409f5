"""Platform and Charge API clients against their stand-ins: auth, faults, rate limits, token caching."""

from __future__ import annotations

import json

import httpx
import pytest

from resources.charge_api import ChargeApiResource
from resources.platform_api import ApiError, PlatformApiResource
from tests.apis.conftest import CHARGE_CLIENT_SECRET, PLATFORM_TOKEN
from tests.standins import platform_data
from tests.standins.base import Fault
from tests.standins.charge_api import ChargeApiStandin


def _collect(api: PlatformApiResource, resource: str = "cdrs", **kwargs) -> tuple[list[dict], list[float]]:
    pages: list[bytes] = []
    waits: list[float] = []
    api.fetch_listing(resource, lambda n, raw: pages.append(raw), sleep=waits.append, **kwargs)
    return [item for raw in pages for item in json.loads(raw)["data"]], waits


def test_wrong_token_is_a_clear_error(platform_server):
    api = PlatformApiResource(base_url=platform_server.url, api_token="wrong-token")
    with pytest.raises(ApiError) as failure:
        _collect(api)
    assert failure.value.status == 401 and failure.value.message == "Unauthenticated."
    assert len(platform_server.requests) == 1  # a 401 is not retried


def test_5xx_and_timeouts_are_retried(platform_server, platform_api):
    platform_server.cdrs += [platform_data.make_cdr(i) for i in range(150)]
    platform_server.inject(Fault(status=502, body={"message": "Bad Gateway"}),
                           Fault(delay_seconds=2.5),  # longer than the client's 2 s timeout
                           Fault(status=500, body={"message": "Server Error"}))
    items, waits = _collect(platform_api)
    assert [c["id"] for c in items] == [300000 + i for i in range(150)]
    assert waits == [0.01, 0.02, 0.04]  # exponential backoff between the three failed attempts
    assert len(platform_server.requests) == 5  # 3 failures + 2 pages


def test_429_waits_as_the_headers_say(platform_server, platform_api):
    platform_server.cdrs += [platform_data.make_cdr(i) for i in range(3)]
    platform_server.inject(Fault(status=429, body={"message": "Too Many Attempts."},
                                 headers={"Retry-After": "1", "X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0"}))
    items, waits = _collect(platform_api)
    assert len(items) == 3 and waits == [1.0]


def test_gives_up_after_max_retries(platform_server):
    api = PlatformApiResource(base_url=platform_server.url, api_token=PLATFORM_TOKEN, max_retries=2, backoff_seconds=0.0)
    platform_server.inject(*[Fault(status=503, body={"message": "down"}) for _ in range(3)])
    with pytest.raises(ApiError, match="gave up after 3 attempts: server error 503"):
        _collect(api)


def test_pagination_follows_links_next_and_filters(platform_server, platform_api):
    platform_server.cdrs += [platform_data.make_cdr(i, is_local=i % 2 == 0) for i in range(250)]
    items, _ = _collect(platform_api, filters={"isLocal": "true"})
    assert len(items) == 125 and all(c["isLocal"] for c in items)
    first, *rest = platform_server.requests
    assert first.query_value("cursor") == "" and first.query_value("filter[isLocal]") == "true"
    assert len(rest) == 1 and rest[0].query_value("cursor") not in ("", None)
    assert rest[0].query_value("filter[isLocal]") == "true"  # links.next carries the filters


def test_foreign_next_link_is_refused(platform_server, platform_api):
    platform_server.cdrs += [platform_data.make_cdr(i) for i in range(2)]
    original = platform_server._page

    def hostile(request, records):
        response = original(request, records)
        response.body["links"]["next"] = "http://198.51.100.7/steal?cursor=x"
        return response

    platform_server._page = hostile
    with pytest.raises(ApiError, match="another host"):
        _collect(platform_api)


def test_cursor_only_listing_refuses_page_numbers(platform_server):
    response = httpx.get(f"{platform_server.url}/public-api/resources/cdrs/v2.0?page=2",
                         headers={"Authorization": f"Bearer {PLATFORM_TOKEN}"})
    assert response.status_code == 400 and "cursor" in response.json()["message"]


def test_charge_api_token_is_cached_until_expiry():
    with ChargeApiStandin("ledger-client", CHARGE_CLIENT_SECRET, token_lifetime_seconds=120) as server:
        client = ChargeApiResource(token_url=server.token_url, base_url=server.url, client_id="ledger-client",
                                   client_secret=CHARGE_CLIENT_SECRET, expiry_margin_seconds=60)
        now = [1000.0]
        client._clock = lambda: now[0]
        first = client.access_token()
        assert client.access_token() == first and len(server.requests_to("/token")) == 1
        now[0] += 59  # 61 s left > 60 s margin: still cached
        assert client.access_token() == first
        now[0] += 2  # inside the margin: renewed
        second = client.access_token()
        assert second != first and len(server.requests_to("/token")) == 2
        form = dict(p.split("=", 1) for p in server.requests_to("/token")[0].body.decode().split("&"))
        assert form["grant_type"] == "client_credentials" and form["scope"] == "chargepass.homecharge.charge.write"
        sent = httpx.post(f"{server.url}/dataProvider.charges.add", headers=client.auth_headers(),
                          json={"charges": [{"chargeExternalId": "c1", "chargePointExternalId": "cp1",
                                             "startDateTime": "2026-10-24T20:00:00Z", "endDateTime": "2026-10-24T22:00:00Z",
                                             "consumptionKwh": 7.4}]})
        assert sent.json() == {"charges": [{"chargeExternalId": "c1", "chargePointExternalId": "cp1", "status": "Success"}]}


def test_charge_api_bad_secret_is_refused_without_echoing_it():
    with ChargeApiStandin("ledger-client", CHARGE_CLIENT_SECRET) as server:
        client = ChargeApiResource(token_url=server.token_url, base_url=server.url, client_id="ledger-client",
                                   client_secret="wrong-" + CHARGE_CLIENT_SECRET[::-1])
        with pytest.raises(ApiError) as failure:
            client.access_token()
    assert failure.value.status == 401 and "invalid_client" in str(failure.value)
    assert CHARGE_CLIENT_SECRET[::-1] not in str(failure.value)


def test_standin_validates_per_page_and_cursor(platform_server):
    headers = {"Authorization": f"Bearer {PLATFORM_TOKEN}"}
    too_big = httpx.get(f"{platform_server.url}/public-api/resources/cdrs/v2.0?cursor=&per_page=101", headers=headers)
    assert too_big.status_code == 422 and too_big.json()["errors"]["per_page"]
    forged = httpx.get(f"{platform_server.url}/public-api/resources/cdrs/v2.0?cursor=not-a-cursor", headers=headers)
    assert forged.status_code == 400 and forged.json() == {"message": "Invalid cursor."}
