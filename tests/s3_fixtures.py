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


class FaultyS3:
    """A tiny proxy on 127.0.0.1 in front of the moto server that answers chosen requests
    with an error status instead of forwarding them: S3 misbehaving, without mocking s3fs.

    ``fail(method, key_suffix, status, times)`` makes the next ``times`` requests (every one
    when None) whose path ends with ``key_suffix`` answer ``status``; ``seen`` lists
    ``(method, path, status)`` of every request, ``urls`` its ``(method, path?query)``, and
    :meth:`listings` the query of every listing of the bucket.
    """

    def __init__(self, upstream: str):
        import http.client
        import http.server
        import threading
        import urllib.parse

        self.rules: list[list] = []
        self.seen: list[tuple[str, str, int]] = []
        self.urls: list[tuple[str, str]] = []
        target = urllib.parse.urlsplit(upstream)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    raw = b""
                    while True:
                        line = self.rfile.readline()
                        raw += line
                        size = int(line.split(b";")[0].strip() or b"0", 16)
                        chunk = self.rfile.read(size + 2)
                        raw += chunk
                        if size == 0:
                            while chunk not in (b"\r\n", b""):     # trailers, up to the blank line
                                chunk = self.rfile.readline()
                                raw += chunk
                            return raw
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _handle(self):
                body = self._body()
                path = urllib.parse.urlsplit(self.path).path
                proxy.urls.append((self.command, self.path))
                for rule in proxy.rules:
                    method, suffix, status, times = rule
                    if method == self.command and path.endswith(suffix) and times != 0:
                        if times is not None:
                            rule[3] = times - 1
                        proxy.seen.append((self.command, path, status))
                        payload = (f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>ServiceUnavailable</Code>"
                                   f"<Message>injected {status}</Message></Error>").encode()
                        self.send_response(status)
                        self.send_header("Content-Type", "application/xml")
                        self.send_header("Content-Length", str(len(payload)))
                        self.end_headers()
                        self.wfile.write(payload)
                        return
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                conn.request(self.command, self.path, body=body or None, headers=dict(self.headers.items()))
                resp = conn.getresponse()
                data = resp.read()
                proxy.seen.append((self.command, path, resp.status))
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "content-length", "connection", "server", "date"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def listings(self) -> list[dict[str, str]]:
        """The query parameters of every object listing (ListObjects) seen, in order."""
        import urllib.parse

        out = []
        for method, url in self.urls:
            parts = urllib.parse.urlsplit(url)
            query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
            listing = "list-type" in query or "prefix" in query
            if method == "GET" and parts.path.strip("/").count("/") == 0 and listing:
                out.append(query)
        return out

    def fail(self, method: str, key_suffix: str, status: int, times: int | None = None) -> None:
        self.rules.append([method, key_suffix, status, times])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def faulty_s3(s3, moto_server):
    """``(bucket, storage_options, proxy)``: the test's bucket reached through :class:`FaultyS3`."""
    bucket, so = s3
    proxy = FaultyS3(moto_server)
    try:
        yield bucket, {**so, "endpoint_url": proxy.url}, proxy
    finally:
        proxy.close()
