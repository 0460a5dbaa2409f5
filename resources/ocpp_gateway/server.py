"""Websocket server of the OCPP gateway: handshake checks, one central-system object per connection.

The handshake is where a charge point is refused: a request without valid Basic credentials for the
charge point id in the URL path gets 401, and one that offers neither ``ocpp2.0.1`` nor ``ocpp1.6`` gets
400 (websockets' own subprotocol negotiation). Both happen before any OCPP frame is read.
"""

from __future__ import annotations

import asyncio
import http
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidHeader
from websockets.headers import build_www_authenticate_basic, parse_authorization_basic
from websockets.http11 import Request, Response

from resources.ocpp_gateway.credentials import CredentialStore
from resources.ocpp_gateway.frame_log import FrameRecorder, GroupCommitLog, RecordingConnection
from resources.ocpp_gateway.handlers import CENTRAL_SYSTEM_BY_SUBPROTOCOL
from resources.ocpp_gateway.transaction_ids import TransactionIdRegistry

LOGGER = logging.getLogger("chargeledger.ocpp_gateway")

# Prefer 2.0.1 when a charger offers both.
SUPPORTED_SUBPROTOCOLS = ["ocpp2.0.1", "ocpp1.6"]
_REALM = "ChargeLedger OCPP"


@dataclass
class GatewayConfig:
    """Everything the gateway needs; secrets arrive already hashed in ``credentials``."""

    host: str
    port: int
    landing_root: Path
    state_dir: Path
    credentials: CredentialStore
    writer: str = field(default_factory=lambda: f"gateway-{socket.gethostname()}")
    heartbeat_interval: int = 300
    # Frames per fsync at most; None shares one fsync among all frames waiting (group commit).
    max_frames_per_fsync: int | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


def charge_point_id_from_path(path: str) -> str:
    """The charge point id is the last path segment of ``ws://host:port/<id>`` (URL-decoded)."""
    return unquote(path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1])


def _unauthorized(connection: ServerConnection, text: str) -> Response:
    response = connection.respond(http.HTTPStatus.UNAUTHORIZED, text)
    response.headers["WWW-Authenticate"] = build_www_authenticate_basic(_REALM)
    return response


def make_authenticator(credentials: CredentialStore):
    """``process_request`` hook: HTTP Basic check of the charge point named in the path."""

    def authenticate(connection: ServerConnection, request: Request) -> Response | None:
        """None lets the handshake continue; a 401 response refuses it."""
        charge_point_id = charge_point_id_from_path(request.path)
        headers: Headers = request.headers
        if "Authorization" not in headers:
            return _unauthorized(connection, "Missing credentials\n")
        try:
            username, password = parse_authorization_basic(headers["Authorization"])
        except InvalidHeader:
            return _unauthorized(connection, "Unsupported credentials\n")
        if not charge_point_id or not credentials.check(charge_point_id, username, password):
            # Log the id only; the presented password never leaves this function.
            LOGGER.warning("refused charge point %r: invalid credentials", charge_point_id)
            return _unauthorized(connection, "Invalid credentials\n")
        connection.username = username
        return None

    return authenticate


def make_connection_handler(config: GatewayConfig, log: GroupCommitLog, registry: TransactionIdRegistry):
    """The per-connection coroutine: wrap the socket in the recorder and run the OCPP router."""

    async def handle(connection: ServerConnection) -> None:
        """Serve one charge point until it disconnects."""
        protocol = connection.subprotocol
        central_system_class = CENTRAL_SYSTEM_BY_SUBPROTOCOL.get(protocol)
        if central_system_class is None:
            # Unreachable with websockets' negotiation, kept as a guard against a changed default.
            await connection.close(code=1002, reason="unsupported subprotocol")
            return
        charge_point_id = charge_point_id_from_path(connection.request.path)
        recording = RecordingConnection(connection, log, charge_point_id, protocol)
        options = {"heartbeat_interval": config.heartbeat_interval, "clock": config.clock}
        if protocol == "ocpp1.6":
            options["transaction_ids"] = registry  # 1.6: the central system issues the ids
        central_system = central_system_class(charge_point_id, recording, **options)
        LOGGER.info("charge point %s connected with %s", charge_point_id, protocol)
        try:
            await central_system.start()
        except ConnectionClosed:
            LOGGER.info("charge point %s disconnected", charge_point_id)

    return handle


async def start_gateway(config: GatewayConfig) -> Server:
    """Start listening and return the websockets server (``server.close()`` stops it)."""
    # The ocpp package logs every frame at INFO; the frames are already landed, so keep logs terse.
    logging.getLogger("ocpp").setLevel(logging.WARNING)
    recorder = FrameRecorder(config.landing_root, config.writer, clock=config.clock)
    registry = TransactionIdRegistry(Path(config.state_dir) / "transaction_ids.jsonl")
    server = await serve(
        make_connection_handler(config, GroupCommitLog(recorder, config.max_frames_per_fsync), registry),
        config.host,
        config.port,
        subprotocols=SUPPORTED_SUBPROTOCOLS,
        process_request=make_authenticator(config.credentials),
    )
    server.frame_recorder = recorder  # closed by the caller after server.close()
    return server


async def run_gateway(config: GatewayConfig) -> None:
    """Serve until cancelled (the command-line entry point)."""
    server = await start_gateway(config)
    LOGGER.info("OCPP gateway listening on %s:%s, landing %s", config.host, config.port, config.landing_root)
    try:
        await server.serve_forever()
    except asyncio.CancelledError:
        pass
    finally:
        server.close()
        await server.wait_closed()
        server.frame_recorder.close()
