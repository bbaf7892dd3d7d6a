"""Fixtures of the backend tests: moto running as a real HTTP server on the loopback, the environment that
points boto3 (here and in the subprocesses a test starts) at it, with a fresh bucket; a GCS emulator."""

import socket

import pytest

BUCKET = "gp-artifacts"


@pytest.fixture(scope="session")
def moto_endpoint():
    pytest.importorskip("moto")
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws(moto_endpoint, monkeypatch):
    """Environment that points boto3 (here and in subprocesses) at the moto server; a fresh bucket."""
    boto3 = pytest.importorskip("boto3")
    env = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("GREENPIPE_SHARED", raising=False)  # definitions get their default, next to the artifacts
    s3 = boto3.client("s3")
    if any(b["Name"] == BUCKET for b in s3.list_buckets().get("Buckets", [])):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
            for item in page.get("Contents", []):
                s3.delete_object(Bucket=BUCKET, Key=item["Key"])
        s3.delete_bucket_lifecycle(Bucket=BUCKET)
    else:
        s3.create_bucket(Bucket=BUCKET)
    return env


@pytest.fixture(scope="session")
def gcs_emulator():
    """google-cloud-storage's JSON API, emulated on the loopback (see gcs_emulator.py); point a client at it with
    STORAGE_EMULATOR_HOST=<its url>."""
    pytest.importorskip("google.cloud.storage")
    from gcs_emulator import GcsEmulator

    emulator = GcsEmulator()
    yield emulator
    emulator.stop()
