"""Per-charge-point HTTP Basic credentials (OCPP security profile 1).

Credentials come from the environment only: the variable named on the command line holds a JSON object
``{"<charge point id>": "<password>" | "sha256:<hex digest>"}``; when that variable is unset, the variable
``<NAME>_FILE`` may hold the path of a file with the same JSON (the container-secrets convention).
Plain passwords are hashed on load and dropped, so the process only ever keeps digests, and every
comparison is a constant-time comparison of digests. Nothing in this module logs a credential.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

_SHA256_PREFIX = "sha256:"


class CredentialsError(ValueError):
    """The credential source is missing or malformed (the message never contains a secret)."""


def password_digest(password: str) -> bytes:
    """SHA-256 digest of a password, the only form in which the gateway keeps it."""
    return hashlib.sha256(password.encode("utf-8")).digest()


@dataclass(frozen=True)
class CredentialStore:
    """Digests of the allowed passwords, keyed by charge point id."""

    digests: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, mapping: dict[str, str]) -> CredentialStore:
        """Build the store from ``{cp_id: password or "sha256:<hex>"}``."""
        if not isinstance(mapping, dict) or not mapping:
            raise CredentialsError("credentials must be a non-empty JSON object of charge point id -> password")
        digests: dict[str, bytes] = {}
        for charge_point_id, secret in mapping.items():
            if not isinstance(charge_point_id, str) or not isinstance(secret, str) or not secret:
                raise CredentialsError(f"credential entry for {charge_point_id!r} must be a non-empty string")
            if secret.startswith(_SHA256_PREFIX):
                try:
                    digest = bytes.fromhex(secret[len(_SHA256_PREFIX) :])
                except ValueError as error:
                    raise CredentialsError(f"credential digest for {charge_point_id!r} is not hex") from error
                if len(digest) != 32:
                    raise CredentialsError(f"credential digest for {charge_point_id!r} is not 32 bytes")
                digests[charge_point_id] = digest
            else:
                digests[charge_point_id] = password_digest(secret)
        return cls(digests)

    def check(self, charge_point_id: str, username: str, password: str) -> bool:
        """True when ``username`` is the charge point's own id and the password matches its digest.

        Security profile 1 requires the Basic username to equal the charge point id of the URL, so one
        charge point's password cannot open a connection in another's name. The digest comparison runs
        even for unknown ids so timing does not reveal which ids exist.
        """
        expected = self.digests.get(charge_point_id, b"\x00" * 32)
        matches = hmac.compare_digest(expected, password_digest(password))
        return matches and username == charge_point_id and charge_point_id in self.digests


def load_credentials_from_env(variable: str) -> CredentialStore:
    """Load the store from ``$variable`` (JSON) or from the file named by ``$variable_FILE``."""
    inline = os.environ.get(variable)
    if inline is None:
        path = os.environ.get(f"{variable}_FILE")
        if path is None:
            raise CredentialsError(f"neither {variable} nor {variable}_FILE is set")
        try:
            inline = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise CredentialsError(f"cannot read the credentials file named by {variable}_FILE") from error
    try:
        mapping = json.loads(inline)
    except json.JSONDecodeError as error:
        # The exception text would quote the secret; report only the position.
        raise CredentialsError(f"{variable} is not valid JSON (at position {error.pos})") from None
    return CredentialStore.from_mapping(mapping)
