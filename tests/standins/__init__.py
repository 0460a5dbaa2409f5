"""Loopback stand-ins for the external APIs ChargeLedger talks to.

Each stand-in is a real HTTP server on 127.0.0.1 built from the seed documents (platform API = seed 001,
Eevion = seed 003, Charge API token + charge endpoints = seed 000): bearer/API-key/OAuth2 auth, cursor or
offset pagination, the sources' filters and error documents, rate limits answered with 429 and
`X-RateLimit-*` headers, and faults (5xx, slow answers) that a test can inject. They are used by the tests
and can be started from the command line, e.g. `python -m tests.standins.platform --port 8801`.
"""
