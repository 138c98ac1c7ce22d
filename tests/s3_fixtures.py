"""S3 for the tests: moto's S3 server, started by the test process itself on 127.0.0.1.

Nothing outside pytest has to run: ``moto_server`` starts ``ThreadedMotoServer`` on a free
port once per session (with fake AWS credentials in the environment, so no SDK ever
looks for real ones or probes the EC2 metadata service), and ``s3`` gives each test its
own bucket plus the fsspec/s3fs ``storage_options`` pinsync takes in its config.

Use it from a test module with ``pytest_plugins = ["tests.s3_fixtures"]``: the fixtures are then
defined once, so the whole session shares one server (importing them into each module would
give every module its own).
"""

from __future__ import annotations

import logging
import os
import uuid

import pytest

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
# anything that could send the SDKs elsewhere than the endpoint the tests pass explicitly
UNSET_AWS_ENV = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
                 "AWS_CA_BUNDLE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")


@pytest.fixture(scope="session")
def moto_server():
    """``http://127.0.0.1:<port>`` of a moto S3 server living for the whole session."""
    mp = pytest.MonkeyPatch()          # save/restore the environment around the session
    for name, value in FAKE_AWS_ENV.items():
        mp.setenv(name, value)
    for name in UNSET_AWS_ENV:
        mp.delenv(name, raising=False)
    for name in ("werkzeug", "moto", "botocore", "aiobotocore", "s3fs"):
        logging.getLogger(name).setLevel(logging.ERROR)
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        mp.undo()


@pytest.fixture
def s3(moto_server):
    """A fresh bucket: ``(bucket, storage_options)`` with s3fs-style options."""
    import boto3

    bucket = f"pinsync-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1").create_bucket(Bucket=bucket)
    return bucket, {"endpoint_url": moto_server, "key": "testing", "secret": "testing"}


def s3_client(storage_options: dict):
    """A boto3 client on the same server, for looking at objects behind pinsync's back."""
    import boto3

    return boto3.client("s3", endpoint_url=storage_options["endpoint_url"], region_name="us-east-1",
                        aws_access_key_id=storage_options["key"], aws_secret_access_key=storage_options["secret"])


def list_keys(storage_options: dict, bucket: str, prefix: str = "") -> dict[str, str]:
    """Every object below ``prefix``: key -> ETag (changes whenever the object is rewritten)."""
    client = s3_client(storage_options)
    out: dict[str, str] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            out[obj["Key"]] = obj["ETag"]
    return out


# ---------------------------------------------------------------- helpers shared by the S3 / API / interop tests
def read_tables(output: str, storage_options: dict | None = None, streams=None, *, config=None) -> dict:
    """Every table below ``output`` read with :func:`pinsync.scan`, rows sorted by the table's key."""
    import pinsync

    out = {}
    for name in streams or pinsync.STREAMS:
        spec = pinsync.STREAMS[name]
        df = pinsync.scan(name, output=output, storage_options=storage_options, config=config).collect()
        out[name] = df.sort(list(spec.primary_key), nulls_last=True)
    return out


def assert_same_tables(got: dict, want: dict) -> None:
    """Same tables, same rows, same dtypes (column order aside)."""
    from polars.testing import assert_frame_equal

    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name].height == want[name].height, name
        try:
            assert_frame_equal(got[name], want[name], check_column_order=False)
        except AssertionError as e:
            raise AssertionError(f"table {name}: {e}") from None
