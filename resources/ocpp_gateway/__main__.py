"""Command line: ``python -m resources.ocpp_gateway --port 9000 --landing data/landing --credentials-env VAR``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from resources.ocpp_gateway.credentials import CredentialsError, load_credentials_from_env
from resources.ocpp_gateway.server import GatewayConfig, run_gateway


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; secrets are never options, only the name of the variable holding them."""
    parser = argparse.ArgumentParser(prog="python -m resources.ocpp_gateway", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--landing", default=os.environ.get("CHARGELEDGER_LANDING", "data/landing"),
                        help="landing zone root (frames go to <landing>/ocpp/...)")
    parser.add_argument("--state-dir", default="data/gateway_state",
                        help="where the transaction id register lives")
    parser.add_argument("--credentials-env", default="CHARGELEDGER_OCPP_CREDENTIALS",
                        help="env var with JSON {cp_id: password|sha256:hex}; or <VAR>_FILE naming a file")
    parser.add_argument("--writer", default=None, help="name of this gateway's landing files")
    parser.add_argument("--heartbeat-interval", type=int, default=300)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Load credentials from the environment and serve until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    arguments = parse_arguments(argv)
    try:
        credentials = load_credentials_from_env(arguments.credentials_env)
    except CredentialsError as error:
        print(f"ocpp gateway: {error}", file=sys.stderr)
        return 2
    config = GatewayConfig(
        host=arguments.host,
        port=arguments.port,
        landing_root=Path(arguments.landing),
        state_dir=Path(arguments.state_dir),
        credentials=credentials,
        heartbeat_interval=arguments.heartbeat_interval,
    )
    if arguments.writer:
        config.writer = arguments.writer
    # A process started in the background by a non-interactive shell (nohup, `cmd &`, CI runners) inherits
    # SIGINT as ignored; the gateway must still stop cleanly on it, so Python's default handler is put back.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        asyncio.run(run_gateway(config))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
