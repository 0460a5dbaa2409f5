"""Local stand-ins of the partners the demo delivers to (no real partner exists on a demo machine).

- `charge_api`: the Charge API receiver (seed 000) the demo's home-charge export sends to on 127.0.0.1;
- `loopback`: the threaded loopback HTTP server they are built on (routing, rate limits, injected faults).

The test stand-ins in `tests/standins/` import these; production code paths never start them.
"""
