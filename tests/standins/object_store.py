"""A loopback S3 endpoint (moto's server, which implements the S3 REST API) for warehouse roots ``s3://…``.

``S3Standin`` starts it on 127.0.0.1 with a free port and gives the environment a client needs (the same
variables a real deployment sets: endpoint, region, key pair, plain HTTP allowed); ``bucket(name)`` creates a
bucket and returns its URL.
"""

from __future__ import annotations

import secrets

import boto3
from moto.server import ThreadedMotoServer


class S3Standin:
    """moto's S3 server on loopback, for the duration of a ``with`` block."""

    def __init__(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.env: dict[str, str] = {}

    def __enter__(self) -> S3Standin:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.env = {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ALLOW_HTTP": "true",
                    "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
                    "AWS_ACCESS_KEY_ID": "standin", "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(16),
                    "AWS_EC2_METADATA_DISABLED": "true"}
        return self

    def _client(self):
        return boto3.client("s3", endpoint_url=self.env["AWS_ENDPOINT_URL"], region_name=self.env["AWS_REGION"],
                            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"])

    def bucket(self, name: str) -> str:
        """Create bucket ``name``; its URL."""
        self._client().create_bucket(Bucket=name)
        return f"s3://{name}"

    def keys(self, bucket: str) -> list[str]:
        """Every object key in ``bucket``, sorted, without the empty directory markers (``…/``) that pyarrow
        leaves when it deletes the last object of a prefix."""
        keys = []
        for page in self._client().get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys += [item["Key"] for item in page.get("Contents", []) if not item["Key"].endswith("/")]
        return sorted(keys)

    def read(self, bucket: str, key: str) -> bytes:
        """The bytes of one object."""
        return self._client().get_object(Bucket=bucket, Key=key)["Body"].read()

    def __exit__(self, *exc) -> None:
        self._server.stop()
