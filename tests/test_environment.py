"""Environment problems are named, never "unexpected error ... (please report this)": S3
without credentials (state, token store), a missing state bucket, S3 answering 503 to the
lock, a full disk under the state, a full $TMPDIR while spilling, an API host that does not
resolve or refuses connections. Each ends with one line and the exit code of its class."""

from __future__ import annotations

import dataclasses
import errno
import json
import socket
from pathlib import Path

import polars as pl
import pytest
import yaml
from click.testing import CliRunner

import pinsync
from pinsync import buffer, storage
from pinsync.cli import main
from pinsync.streams import STREAMS
from tests.conftest import REFRESH_AUTH, TOKEN

pytest_plugins = ["tests.s3_fixtures"]   # moto_server (one per session), s3, faulty_s3


def _config(tmp_path: Path, url: str, **extra) -> Path:
    data = {"api_url": url, "auth": {"access_token": TOKEN}, "output": {"url": "out"},
            "state": {"url": "state/state.json"}, "streams": ["ad_accounts", "campaigns", "campaign_analytics"],
            "analytics": {"lookback_days": 2}, "http": {"max_retries": 2}}
    data.update(extra)
    path = tmp_path / "pinsync.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _fails(res, code: int) -> str:
    """The --json error of a failed command, checked: the exit code, one line, no traceback."""
    assert res.exit_code == code, res.output
    body = json.loads(res.stdout[res.stdout.index("{"):])
    assert body["exit_code"] == code
    assert "unexpected error" not in res.output and "please report" not in res.output
    assert "Traceback" not in res.output
    return body["error"]


@pytest.fixture
def no_aws_credentials(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)


# ------------------------------------------------------------------------------ S3 locations
def test_s3_state_without_credentials_is_named_exit_2(tmp_path, server, s3, no_aws_credentials):
    bucket, so = s3
    cfg = _config(tmp_path, server.url, state={"url": f"s3://{bucket}/state/state.json",
                                               "storage_options": {"endpoint_url": so["endpoint_url"]}})
    error = _fails(CliRunner().invoke(main, ["run", "--config", str(cfg), "--json"]), 2)
    assert f"s3://{bucket}/state/state.json" in error and "no S3 credentials" in error
    assert "AWS_ACCESS_KEY_ID" in error
    assert not (tmp_path / "out").exists()


def test_s3_token_store_without_credentials_is_named_exit_2(tmp_path, server, s3, no_aws_credentials):
    bucket, so = s3
    cfg = _config(tmp_path, server.url, auth={**REFRESH_AUTH, "token_store": f"s3://{bucket}/auth/tokens.json"},
                  state={"url": "state/state.json", "storage_options": {"endpoint_url": so["endpoint_url"]}})
    error = _fails(CliRunner().invoke(main, ["run", "--config", str(cfg), "--json"]), 2)
    assert f"s3://{bucket}/auth/tokens.json" in error and "no S3 credentials" in error


def test_a_missing_s3_state_bucket_is_named_exit_2(tmp_path, server, s3):
    _, so = s3
    cfg = _config(tmp_path, server.url, state={"url": "s3://no-such-pinsync-bucket/state/state.json",
                                               "storage_options": so})
    error = _fails(CliRunner().invoke(main, ["run", "--config", str(cfg), "--json"]), 2)
    assert "the bucket 'no-such-pinsync-bucket' does not exist" in error


def test_s3_lock_put_answered_503_is_retried_then_named_exit_1(tmp_path, server, faulty_s3):
    bucket, so, proxy = faulty_s3
    proxy.fail("PUT", "/state/state.json.lock", 503)
    cfg = _config(tmp_path, server.url, state={"url": f"s3://{bucket}/state/state.json", "storage_options": so})
    error = _fails(CliRunner().invoke(main, ["run", "--config", str(cfg), "--json"]), 1)
    assert f"s3://{bucket}/state/state.json.lock" in error and "HTTP 503" in error and "re-run later" in error
    puts = [s for m, p, s in proxy.seen if m == "PUT" and p.endswith(".lock")]
    assert len(puts) > 1 and set(puts) == {503}      # retried like any S3 call, then given up
    assert not (tmp_path / "out").exists()


def test_one_503_on_the_s3_lock_put_is_retried_and_the_run_completes(tmp_path, server, faulty_s3):
    bucket, so, proxy = faulty_s3
    proxy.fail("PUT", "/state/state.json.lock", 503, times=1)
    cfg = _config(tmp_path, server.url, state={"url": f"s3://{bucket}/state/state.json", "storage_options": so})
    res = CliRunner().invoke(main, ["run", "--config", str(cfg), "--json"])
    assert res.exit_code == 0, res.output
    puts = [s for m, p, s in proxy.seen if m == "PUT" and p.endswith(".lock")]
    assert puts[:2] == [503, 200]


# ------------------------------------------------------------------------------ full disks
def test_a_full_state_disk_on_the_first_run_names_the_state_file(tmp_path, server, monkeypatch):
    write = storage.Location.write

    def full(self, rel, data, **kw):
        if rel == "state.json":
            raise OSError(errno.ENOSPC, "No space left on device")
        return write(self, rel, data, **kw)

    monkeypatch.setattr(storage.Location, "write", full)
    cfg = _config(tmp_path, server.url)
    error = _fails(CliRunner().invoke(main, ["run", "--config", str(cfg), "--json"]), 2)
    assert f"{tmp_path}/state/state.json" in error and "no space left" in error


def test_a_full_output_disk_names_the_file_exit_1(tmp_path, server, monkeypatch):
    write = storage.Location.write

    def full(self, rel, data, **kw):
        if rel.endswith("data.parquet"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return write(self, rel, data, **kw)

    monkeypatch.setattr(storage.Location, "write", full)
    cfg = _config(tmp_path, server.url)
    error = _fails(CliRunner().invoke(main, ["run", "--config", str(cfg), "--json"]), 1)
    assert f"cannot write {tmp_path}/out/" in error and "No space left on device" in error


def test_a_full_tmpdir_while_spilling_is_named_exit_1(tmp_path, server, monkeypatch):
    # campaigns asked for two at a time: a month waits for the next call, held (spilled) meanwhile
    monkeypatch.setitem(STREAMS, "campaign_analytics", dataclasses.replace(STREAMS["campaign_analytics"], batch_size=2))
    init = buffer.FrameBuffer.__init__
    monkeypatch.setattr(buffer.FrameBuffer, "__init__",
                        lambda self, by, limit, spill_dir=None: init(self, by, 1, str(tmp_path / "tmp")))
    (tmp_path / "tmp").mkdir()

    def full(self, *a, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_ipc", full)
    cfg = _config(tmp_path, server.url)
    error = _fails(CliRunner().invoke(main, ["run", "--config", str(cfg), "--json"]), 1)
    assert f"{tmp_path}/tmp/pinsync-spill-" in error and "$TMPDIR" in error and "No space left on device" in error
    assert "buffer_mb" in error


# ------------------------------------------------------------------------------ the API's host
def test_an_api_host_that_does_not_resolve_fails_fast_naming_it(make_config):
    waits = []
    config = make_config({"api_url": "http://no-such-host.invalid/v5"})
    with pytest.raises(pinsync.NetworkError) as err:
        pinsync.run(config, sleep=waits.append)
    assert "GET /ad_accounts" in str(err.value) and "no-such-host.invalid does not resolve" in str(err.value)
    assert err.value.exit_code == 1 and waits == []          # no retry: a DNS failure is not transient


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_refused_connection_is_retried_then_named(make_config):
    waits = []
    port = _closed_port()
    config = make_config({"api_url": f"http://127.0.0.1:{port}/v5", "http": {"max_retries": 2},
                          "streams": ["ad_accounts"]})
    with pytest.raises(pinsync.NetworkError) as err:
        pinsync.run(config, sleep=waits.append)
    assert f"127.0.0.1:{port} refused the connection" in str(err.value) and "3 attempts" in str(err.value)
    assert err.value.exit_code == 1 and len(waits) == 2


def test_the_cli_names_an_unresolvable_token_endpoint(tmp_path):
    cfg = _config(tmp_path, "http://no-such-host.invalid/v5", auth=REFRESH_AUTH)
    error = _fails(CliRunner().invoke(main, ["run", "--config", str(cfg), "--json"]), 1)
    assert "cannot refresh the access token at http://no-such-host.invalid/v5/oauth/token" in error
    assert "no-such-host.invalid does not resolve" in error


def test_check_names_an_s3_state_location_without_credentials(tmp_path, server, s3, no_aws_credentials):
    bucket, so = s3
    cfg = _config(tmp_path, server.url, state={"url": f"s3://{bucket}/state/state.json",
                                               "storage_options": {"endpoint_url": so["endpoint_url"]}})
    res = CliRunner().invoke(main, ["check", "--config", str(cfg), "--json"])
    assert res.exit_code == 2, res.output
    failed = [c for c in json.loads(res.stdout)["checks"] if not c["ok"]]
    assert failed[0]["name"] == "state" and "no S3 credentials" in failed[0]["detail"]
    assert f"s3://{bucket}/state" in failed[0]["detail"] and "please report" not in res.output
