"""A real S3-protocol server on loopback for tests: moto's standalone server in a thread.

The product reaches it the way a team reaches MinIO or a private S3: the standard AWS
variables for credentials (dummy values here) and ``MLOPS_S3_ENDPOINT_URL`` for the endpoint.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

import pytest


@dataclass
class S3Server:
    """A running moto server; ``env(bucket)`` is what a process needs to use it."""

    endpoint: str
    _server: object

    def env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "MLOPS_S3_ENDPOINT_URL": self.endpoint,
        }

    def new_bucket(self) -> str:
        """Create an empty bucket and return its name."""
        name = f"b-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def client(self):  # type: ignore[no-untyped-def]
        import boto3

        env = self.env()
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_DEFAULT_REGION"],
        )

    def objects(self, bucket: str, prefix: str = "") -> dict[str, bytes]:
        """Every object under ``prefix`` (key -> bytes), read straight from the server."""
        client = self.client()
        found = {}
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", []):
                body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                found[item["Key"]] = body
        return found

    def stop(self) -> None:
        self._server.stop()  # type: ignore[attr-defined]


def start() -> S3Server:
    """Start moto's S3 server on a free 127.0.0.1 port."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return S3Server(endpoint=f"http://{host}:{port}", _server=server)


@pytest.fixture(scope="session")
def s3_server():
    """One moto S3 server for the test session."""
    server = start()
    yield server
    server.stop()


@pytest.fixture
def s3_project(project, s3_server, monkeypatch):
    """``project`` with its blobs in a fresh bucket of the loopback S3 server."""
    from mlops_nb.project import Project

    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    bucket = s3_server.new_bucket()
    monkeypatch.setenv("MLOPS_ARTIFACT_URI", f"s3://{bucket}/store")
    project.close()
    Project.forget()
    found = Project.find()
    found.bucket = bucket  # type: ignore[attr-defined]
    return found
