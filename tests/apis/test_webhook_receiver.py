"""The Eevion webhook receiver on uvicorn: status codes for every malformed request, chunked bodies, and a
bounded load test on loopback (500 deliveries, 50 concurrent, with duplicates and chunked ones) in which every
acknowledged delivery is stored exactly once."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import time

import httpx
import pytest

from resources.eevion_webhook import EevionWebhookReceiver, landing_name
from tests.apis.conftest import LANDING_DAY, WEBHOOK_TOKEN, utc


@pytest.fixture
def receiver(tmp_landing):
    server = EevionWebhookReceiver(tmp_landing, WEBHOOK_TOKEN, max_body_bytes=10_000, read_timeout_seconds=1.0,
                                   clock=lambda: utc(f"{LANDING_DAY}T10:00:00Z")).start()
    yield server
    server.stop()


def _raw(receiver: EevionWebhookReceiver, request: bytes, wait_for_close: bool = False) -> bytes:
    """Send raw bytes on one connection and return what came back (status line first)."""
    host, port = receiver.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(request)
        if wait_for_close:
            conn.shutdown(socket.SHUT_WR)
        answer = b""
        while b"\r\n\r\n" not in answer:
            part = conn.recv(65536)
            if not part:
                break
            answer += part
        return answer


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def _path(receiver: EevionWebhookReceiver) -> str:
    return f"/eevion/{WEBHOOK_TOKEN}/session-complete"


def _stored(tmp_landing) -> dict[str, bytes]:
    day = tmp_landing.day_dir("eevion/webhooks", LANDING_DAY)
    return {p.name: p.read_bytes() for p in sorted(day.iterdir())} if day.exists() else {}


def test_chunked_body_is_read_whole_and_stored(receiver, tmp_landing):
    body = json.dumps({"sessionId": "s-chunked", "energy": 12345, "pad": "x" * 3000}).encode()
    chunks = [body[i:i + 700] for i in range(0, len(body), 700)]
    wire = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    answer = _raw(receiver, b"POST " + _path(receiver).encode() + b" HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + wire)
    assert _status(answer) == 200
    assert _stored(tmp_landing) == {landing_name(body): body}


def test_status_codes_for_bad_requests(receiver, tmp_landing):
    path = _path(receiver).encode()
    # a non-numeric Content-Length gets an answer (uvicorn refuses the request), not silence
    assert _status(_raw(receiver, b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n{}")) == 400
    # neither a length nor chunked: 411
    assert _status(_raw(receiver, b"POST " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n", wait_for_close=True)) == 411
    url = receiver.webhook_url()
    assert httpx.post(url, content=b"").status_code == 400
    assert httpx.post(url, content=b"a=1", headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 415
    assert httpx.post(url, content=b"{}", headers={"Content-Encoding": "gzip"}).status_code == 415
    assert httpx.get(url).status_code == 405
    assert httpx.post(f"{receiver.url}/eevion/{WEBHOOK_TOKEN}x/session-complete", json={"a": 1}).status_code == 404
    assert httpx.post(f"{receiver.url}/other", json={"a": 1}).status_code == 404
    # too large, declared and chunked (counted while reading): 413, nothing stored
    assert httpx.post(url, content=b"x" * 20_000).status_code == 413
    assert httpx.post(url, content=iter([b"y" * 6_000, b"y" * 6_000])).status_code == 413
    # a JSON Content-Type with parameters and a +json type are fine; the body is kept even if not a session
    ok = httpx.post(url, content=b"[1]", headers={"Content-Type": "application/vnd.eevion+json; charset=utf-8"})
    assert ok.status_code == 200 and ok.json()["stored"].startswith("unparsed-")
    assert list(_stored(tmp_landing).values()) == [b"[1]"]


def test_a_body_that_never_completes_gets_408(receiver, tmp_landing):
    answer = _raw(receiver, b"POST " + _path(receiver).encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
    assert _status(answer) == 408 and _stored(tmp_landing) == {}


def test_a_failed_store_is_503_and_not_acknowledged(receiver, tmp_landing, monkeypatch):
    def fail(*_):
        raise OSError("disk full")
    monkeypatch.setattr(tmp_landing.__class__, "write_file", fail)
    assert httpx.post(receiver.webhook_url(), json={"sessionId": "s-1"}).status_code == 503
    assert _stored(tmp_landing) == {}


def test_load_every_acknowledged_delivery_is_stored_exactly_once(tmp_landing):
    """500 deliveries over 50 concurrent connections: 300 distinct sessions, 200 duplicates of them (some sent
    at the same moment), one in five chunked. Every delivery must be acknowledged and land exactly once."""
    receiver = EevionWebhookReceiver(tmp_landing, WEBHOOK_TOKEN, clock=lambda: utc(f"{LANDING_DAY}T10:00:00Z")).start()
    bodies = [json.dumps({"sessionId": f"s-{i:04d}", "energy": i * 7, "pad": "p" * (i % 50) * 40}).encode()
              for i in range(300)]
    deliveries = bodies + [bodies[i % 300] for i in range(0, 400, 2)]  # 500, duplicates interleaved below
    deliveries = [deliveries[j] for j in sorted(range(500), key=lambda j: (j * 7919) % 500)]

    async def send_all() -> list[tuple[bytes, int, str | None]]:
        limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
        gate = asyncio.Semaphore(50)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            async def deliver(k: int, body: bytes):
                async with gate:
                    if k % 5 == 0:
                        async def chunks():
                            yield body[: len(body) // 2]
                            yield body[len(body) // 2:]
                        content = chunks()
                    else:
                        content = body
                    try:
                        answer = await client.post(receiver.webhook_url(), content=content,
                                                   headers={"Content-Type": "application/json"})
                    except httpx.TransportError:
                        return body, 0, None
                    return body, answer.status_code, answer.json().get("stored")
            return await asyncio.gather(*(deliver(k, b) for k, b in enumerate(deliveries)))

    try:
        results = asyncio.run(send_all())
    finally:
        receiver.stop()
    acknowledged = [(body, name) for body, status, name in results if status == 200]
    assert len(acknowledged) == 500, sorted({status for _, status, _ in results})
    stored = _stored(tmp_landing)
    expected = {landing_name(body): body for body, _ in acknowledged}
    assert len(expected) == 300 and stored == expected  # each distinct body once, byte for byte
    assert all(name == landing_name(body) for body, name in acknowledged)
    day = tmp_landing.day_dir("eevion/webhooks", LANDING_DAY)
    assert not [p for p in day.iterdir() if p.name.startswith(".")]  # no temp file left behind
    assert all(hashlib.sha256(b).hexdigest()[:8] in n for n, b in stored.items())


def test_connections_over_the_limit_get_503_and_the_held_ones_still_complete(tmp_landing):
    receiver = EevionWebhookReceiver(tmp_landing, WEBHOOK_TOKEN, limit_concurrency=3, read_timeout_seconds=10,
                                     clock=lambda: utc(f"{LANDING_DAY}T10:00:00Z")).start()
    host, port = receiver.url.removeprefix("http://").split(":")
    body = b'{"sessionId": "held"}'
    head = (f"POST /eevion/{WEBHOOK_TOKEN}/session-complete HTTP/1.1\r\nHost: x\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    held = [socket.create_connection((host, int(port)), timeout=10) for _ in range(2)]
    try:
        for conn in held:
            conn.sendall(head + body[:5])  # slow senders: the body is not complete yet
        time.sleep(0.5)  # let uvicorn admit both requests before the third connection opens
        # uvicorn counts the new connection too: with a limit of 3, two in flight leave no room for a third
        busy = httpx.post(receiver.webhook_url(), json={"sessionId": "extra"})
        assert busy.status_code == 503
        for conn in held:
            conn.sendall(body[5:])
            assert conn.recv(65536).startswith(b"HTTP/1.1 200")
    finally:
        for conn in held:
            conn.close()
        receiver.stop()
    assert list(_stored(tmp_landing).values()) == [body]
