"""Scaling past one machine: shards share the accounts, the output and one token store."""

from __future__ import annotations

import json
import threading

import polars as pl
import pytest
from click.testing import CliRunner

import pinsync
from pinsync.cli import main
from pinsync.fake import Dataset
from pinsync.sync import shard_of
from tests.conftest import REFRESH_AUTH, TODAY, TOKEN

@pytest.fixture
def dataset() -> Dataset:   # enough accounts to land in both of two shards
    return Dataset(seed=11, accounts=5, campaigns_per_account=3, ad_groups_per_campaign=2, ads_per_ad_group=2,
                   pins=20, today=TODAY, history_days=120)


STREAMS = ["ad_accounts", "campaigns", "ads", "campaign_analytics", "pins"]


def _tables(out) -> dict[str, pl.DataFrame]:
    tables = {}
    for stream in STREAMS:
        lf = pinsync.scan(stream, output=str(out))
        key = [c for c in ("id", "campaign_id", "date") if c in lf.collect_schema()]
        tables[stream] = lf.collect().sort(key)
    return tables


def test_shard_of_is_stable_and_covers_every_account():
    ids = [str(10**15 + i) for i in range(200)]
    assert [shard_of(i, 4) for i in ids] == [shard_of(i, 4) for i in ids]
    assert {shard_of(i, 4) for i in ids} == {0, 1, 2, 3}


def test_two_shards_run_concurrently_equal_one_run(make_config, fake, dataset, tmp_path):
    dataset_accounts = [a["id"] for a in dataset.ad_accounts]
    assert len({shard_of(a, 2) for a in dataset_accounts}) == 2, "the test data should split across both shards"
    single = make_config({"auth": {"access_token": TOKEN},
                          "output": {"url": str(tmp_path / "single")},
                          "state": {"url": str(tmp_path / "single-state" / "state.json")}}, streams=STREAMS)
    pinsync.run(single, today=TODAY)

    results, errors = {}, []

    def shard(k: int) -> None:
        config = make_config({"auth": dict(REFRESH_AUTH, token_store=str(tmp_path / "shared" / "tokens.json")),
                              "output": {"url": str(tmp_path / "sharded")},
                              "state": {"url": str(tmp_path / f"state-{k}" / "state.json")}}, streams=STREAMS)
        try:
            results[k] = pinsync.run(config, today=TODAY, shard=(k, 2))
        except Exception as e:   # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=shard, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert fake.refresh_count == 1          # one refresh under the store lock; the other shard reused it
    one, sharded = _tables(tmp_path / "single"), _tables(tmp_path / "sharded")
    for stream in STREAMS:
        assert sharded[stream].equals(one[stream]), stream
    # each account's partitions were written by exactly one shard
    for k, r in results.items():
        assert r.streams["campaigns"].files_written == sum(1 for a in dataset_accounts if shard_of(a, 2) == k)
    assert results[1].streams.get("pins") is None or results[1].streams["pins"].files_written == 0


def test_ad_accounts_flag_limits_the_run(make_config, dataset, tmp_path):
    first = dataset.ad_accounts[0]["id"]
    pinsync.run(make_config(streams=["campaigns"], ad_account_ids=[first]), today=TODAY)
    parts = sorted(p.name for p in (tmp_path / "out" / "campaigns").iterdir())
    assert parts == [f"ad_account_id={first}"]


def test_accounts_json_lists_accounts_for_orchestrators(tmp_path, server, dataset, monkeypatch):
    monkeypatch.setenv("TEST_PINTEREST_TOKEN", TOKEN)
    cfg = tmp_path / "pinsync.yaml"
    cfg.write_text(json.dumps({"api_url": server.url, "auth": {"access_token": "${TEST_PINTEREST_TOKEN}"}}))
    res = CliRunner().invoke(main, ["accounts", "--config", str(cfg), "--json"])
    assert res.exit_code == 0, res.output
    listed = json.loads(res.output)
    assert sorted(a["id"] for a in listed) == sorted(a["id"] for a in dataset.ad_accounts)
    assert {"id", "name", "currency", "country"} <= set(listed[0])


def _account_ids(out) -> list[str]:
    return sorted(pinsync.scan("ad_accounts", output=str(out)).collect()["id"].to_list())


@pytest.mark.parametrize("selection", [{"ad_account_ids": "first"}, {"shard": (0, 2)}, {"shard": (1, 2)}])
def test_a_subset_run_never_removes_other_accounts_from_the_ad_accounts_table(make_config, dataset, tmp_path,
                                                                            selection):
    """--ad-accounts and --shard select the accounts to sync, never the rows of the shared
    ad_accounts table: after a full run, a subset run leaves every account listed."""
    every = sorted(a["id"] for a in dataset.ad_accounts)
    first = dataset.ad_accounts[0]["id"]
    assert pinsync.run(make_config(streams=["ad_accounts", "campaigns"]), today=TODAY).ok
    assert _account_ids(tmp_path / "out") == every
    overrides = {"ad_account_ids": [first]} if "ad_account_ids" in selection else {}
    result = pinsync.run(make_config(streams=["ad_accounts", "campaigns"], **overrides), today=TODAY,
                         shard=selection.get("shard"))
    assert result.ok
    assert _account_ids(tmp_path / "out") == every
    if "ad_account_ids" in selection:       # only the chosen account's campaigns were synced
        assert result.streams["campaigns"].units == 1


def test_the_ad_accounts_flag_writes_the_whole_listing_on_a_fresh_output(tmp_path, server, dataset):
    first = dataset.ad_accounts[0]["id"]
    cfg = tmp_path / "pinsync.yaml"
    cfg.write_text(json.dumps({"api_url": server.url, "auth": {"access_token": TOKEN},
                               "output": {"url": str(tmp_path / "out")},
                               "state": {"url": str(tmp_path / "state" / "state.json")},
                               "streams": ["ad_accounts", "campaigns"]}))
    res = CliRunner().invoke(main, ["run", "--config", str(cfg), "--ad-accounts", first])
    assert res.exit_code == 0, res.output
    assert _account_ids(tmp_path / "out") == sorted(a["id"] for a in dataset.ad_accounts)


def test_an_account_the_token_cannot_see_fails_the_run_and_leaves_the_table_whole(make_config, dataset, tmp_path):
    every = sorted(a["id"] for a in dataset.ad_accounts)
    result = pinsync.run(make_config(streams=["ad_accounts", "campaigns"], ad_account_ids=["999000111"]), today=TODAY,
                         raise_on_failure=False)
    assert not result.ok and any("999000111" in f and "not visible" in f for f in result.failures)
    assert _account_ids(tmp_path / "out") == every           # the listing itself succeeded: all of it
    assert not (tmp_path / "out" / "campaigns").exists()     # nothing of the unknown account


def test_a_failed_account_listing_writes_nothing_and_keeps_the_table(make_config, fake, dataset, tmp_path):
    config = make_config(streams=["ad_accounts"])
    fake.add_fault("ad_accounts", "status", times=10**6, status=403)
    result = pinsync.run(config, today=TODAY, raise_on_failure=False)
    assert not result.ok
    assert not (tmp_path / "out" / "ad_accounts").exists()
    state = tmp_path / "state" / "state.json"
    assert not state.exists() or "ad_accounts" not in json.loads(state.read_text())["bookmarks"]
    fake.clear_faults()
    assert pinsync.run(config, today=TODAY).ok
    fake.add_fault("ad_accounts", "status", times=10**6, status=403)
    assert not pinsync.run(config, today=TODAY, raise_on_failure=False).ok
    assert _account_ids(tmp_path / "out") == sorted(a["id"] for a in dataset.ad_accounts)


def test_only_the_first_shard_writes_the_ad_accounts_table(make_config, dataset, tmp_path):
    config = make_config(streams=["ad_accounts", "campaigns"])
    assert pinsync.run(config, today=TODAY, shard=(1, 2)).ok
    assert not (tmp_path / "out" / "ad_accounts").exists()
    assert pinsync.run(config, today=TODAY, shard=(0, 2)).ok
    assert _account_ids(tmp_path / "out") == sorted(a["id"] for a in dataset.ad_accounts)
