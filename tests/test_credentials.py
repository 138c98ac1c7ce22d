"""The credential chain is never lost: Pinterest retires the old refresh token the moment
it answers a refresh, so the new one must reach durable storage or a rescue file, through
full disks, S3 errors and symlinks; a malformed store entry is a named error; wrong app
credentials are told apart from a revoked refresh token."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import pinsync
from pinsync.auth import TokenStore
from pinsync.cli import main
from pinsync.errors import AuthError, StateError
from pinsync.storage import Location

CLIENT_ID, SECRET, REFRESH = "1234567", "app-secret-xyz", "pinr.initial-refresh-token"


@pytest.fixture
def cfg(tmp_path, server) -> Path:
    path = tmp_path / "pinsync.yaml"
    path.write_text(yaml.safe_dump({
        "api_url": server.url, "streams": ["ad_accounts"], "output": {"url": "out"},
        "state": {"url": "state/state.json"},
        "auth": {"client_id": CLIENT_ID, "client_secret": SECRET, "refresh_token": REFRESH}}))
    return path


def _store(tmp_path) -> Path:
    return tmp_path / "state" / "tokens.json"


def _full_disk_for_the_store(monkeypatch, fails: int | None = None):
    """Writes of the token store fail with ENOSPC (the probe before the refresh still fits)."""
    real = Location.write
    calls = {"n": 0}

    def write(self, rel, data, **kw):
        if rel == "tokens.json" and (fails is None or calls["n"] < fails):
            calls["n"] += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, rel, data, **kw)

    monkeypatch.setattr(Location, "write", write)
    calls["restore"] = lambda: monkeypatch.setattr(Location, "write", real)
    return calls


def test_a_full_disk_right_after_the_refresh_keeps_the_new_token_in_a_rescue_file(cfg, tmp_path, fake, monkeypatch):
    calls = _full_disk_for_the_store(monkeypatch)
    res = CliRunner().invoke(main, ["run", "--config", str(cfg)])
    assert res.exit_code == 3, res.output
    assert "No space left on device" in res.output and "rescue file" in res.output
    assert fake.refresh_count == 1 and calls["n"] == 5               # retried with backoff first
    new_refresh = fake.current_refresh_token
    assert new_refresh != REFRESH and new_refresh not in res.output
    rescue = list((tmp_path / "rescue").glob("tokens-*.json"))
    assert len(rescue) == 1 and str(rescue[0]) in res.output.replace("\n", "")
    assert stat.S_IMODE(rescue[0].stat().st_mode) == 0o600
    assert json.loads(rescue[0].read_text())["clients"][CLIENT_ID]["refresh_token"] == new_refresh

    calls["restore"]()                                               # the disk has room again
    res = CliRunner().invoke(main, ["run", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    assert not list((tmp_path / "rescue").glob("*.json"))           # moved into the store
    stored = json.loads(_store(tmp_path).read_text())["clients"][CLIENT_ID]
    assert stored["refresh_token"] == fake.current_refresh_token     # the chain is intact
    assert fake.refresh_count == 1                                   # the rescued access token still worked


def test_a_store_that_recovers_during_the_retries_needs_no_rescue(cfg, tmp_path, fake, monkeypatch):
    calls = _full_disk_for_the_store(monkeypatch, fails=2)
    assert pinsync.run(pinsync.load_config(cfg)).ok
    assert calls["n"] == 2 and not (tmp_path / "rescue").exists()
    assert json.loads(_store(tmp_path).read_text())["clients"][CLIENT_ID]["refresh_token"] == \
        fake.current_refresh_token


def test_the_store_is_probed_before_refreshing(cfg, tmp_path, fake, monkeypatch):
    real = Location.write

    def write(self, rel, data, **kw):
        if rel.startswith(".tokens.json.probe-"):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real(self, rel, data, **kw)

    monkeypatch.setattr(Location, "write", write)
    res = CliRunner().invoke(main, ["run", "--config", str(cfg)])
    assert res.exit_code == 2 and "Read-only file system" in res.output and "still valid" in res.output
    assert fake.refresh_count == 0 and fake.current_refresh_token == REFRESH


def test_the_refresh_answer_reaches_the_store_within_milliseconds(cfg, tmp_path, fake):
    config = pinsync.load_config(cfg)
    from pinsync.auth import token_provider

    provider = token_provider(config.auth, config.api_url)
    provider.token()
    assert fake.refresh_count == 1
    assert 0 < provider.keep_window < 0.5    # answer received -> store durable (a generous bound)


def test_a_symlinked_token_store_and_state_stay_links_to_the_shared_files(cfg, tmp_path, fake):
    shared = tmp_path / "shared"
    shared.mkdir()
    (tmp_path / "state").mkdir()
    (shared / "tokens.json").write_text(json.dumps({"version": 1, "clients": {}}))
    (shared / "state.json").write_text(json.dumps({"version": 1, "bookmarks": {}}))
    os.symlink(shared / "tokens.json", _store(tmp_path))
    os.symlink(shared / "state.json", tmp_path / "state" / "state.json")
    assert pinsync.run(pinsync.load_config(cfg)).ok
    assert _store(tmp_path).is_symlink() and (tmp_path / "state" / "state.json").is_symlink()
    assert json.loads((shared / "tokens.json").read_text())["clients"][CLIENT_ID]["refresh_token"] == \
        fake.current_refresh_token
    assert json.loads((shared / "state.json").read_text())["bookmarks"]["ad_accounts"]


@pytest.mark.parametrize("broken", [
    {"refresh_token": None}, {"access_token": 12}, {"access_token_expires_at": "soon"}, "not-an-object",
    {"seed": None},
])
def test_a_malformed_store_entry_is_a_named_error_not_a_fallback(cfg, tmp_path, fake, broken):
    entry = {"seed": "x", "refresh_token": "pinr.r", "access_token": "pina.a", "access_token_expires_at": 1,
             "refresh_token_expires_at": None}
    entry = {**entry, **broken} if isinstance(broken, dict) else broken
    _store(tmp_path).parent.mkdir()
    _store(tmp_path).write_text(json.dumps({"version": 1, "clients": {CLIENT_ID: entry}}))
    res = CliRunner().invoke(main, ["run", "--config", str(cfg)])
    assert res.exit_code == 2, res.output
    assert "token store" in res.output and CLIENT_ID in res.output and "re-authorise" not in res.output
    assert fake.refresh_count == 0


def test_a_missing_field_names_the_field():
    with pytest.raises(StateError, match="'access_token_expires_at' of app 1 is missing"):
        from pinsync.auth import _check_entry
        _check_entry("tokens.json", "1", {"seed": "s", "refresh_token": "r", "access_token": "a"})


def test_a_wrong_client_secret_is_not_a_refresh_token_to_reauthorise(cfg, tmp_path, fake):
    text = cfg.read_text().replace(SECRET, "not-the-app-secret")
    cfg.write_text(text)
    res = CliRunner().invoke(main, ["run", "--config", str(cfg)])
    assert res.exit_code == 3
    assert "app credentials" in res.output and "auth.client_secret" in res.output
    assert "re-authorise" not in res.output and "not-the-app-secret" not in res.output
    assert fake.current_refresh_token == REFRESH


def test_a_revoked_refresh_token_is_the_reauthorise_case(cfg, fake):
    fake.revoke_refresh_token()
    res = CliRunner().invoke(main, ["run", "--config", str(cfg)])
    assert res.exit_code == 3 and "re-authorise" in res.output and "app credentials" not in res.output
