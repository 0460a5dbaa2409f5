"""The stand-ins' server machinery, which lives in `data.partners.loopback` (the demo's partner receiver
uses it too, and demo code must not import from tests/): re-exported here for the test stand-ins."""

from data.partners.loopback import Fault, Handler, RateLimiter, Request, Response, StandinServer, command_line

__all__ = ["Fault", "Handler", "RateLimiter", "Request", "Response", "StandinServer", "command_line"]
