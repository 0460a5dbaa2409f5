"""OCPP central system ("gateway") that charge points connect to over OCPP-J websockets.

It negotiates OCPP 1.6J or 2.0.1 by websocket subprotocol, authenticates every charge point with HTTP
Basic credentials in the handshake (security profile 1), answers the core messages, and records every
frame in both directions to the landing zone before the answer leaves the process.

Run it with ``python -m resources.ocpp_gateway --port 9000 --landing data/landing
--credentials-env CHARGELEDGER_OCPP_CREDENTIALS``.
"""

from resources.ocpp_gateway.credentials import CredentialStore, load_credentials_from_env
from resources.ocpp_gateway.frame_log import FrameRecorder, GroupCommitLog
from resources.ocpp_gateway.server import GatewayConfig, run_gateway, start_gateway
from resources.ocpp_gateway.transaction_ids import TransactionIdRegistry

__all__ = [
    "CredentialStore",
    "FrameRecorder",
    "GroupCommitLog",
    "GatewayConfig",
    "TransactionIdRegistry",
    "load_credentials_from_env",
    "run_gateway",
    "start_gateway",
]
