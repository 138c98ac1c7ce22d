"""A re-run rewrites only the analytics month files whose rows changed, and the state never
vouches for a month it is about to change (so a crash cannot hide a changed file)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

import pinsync
from pinsync.errors import SinkError
from pinsync.sink import DATA_FILE, Sink, content_hash
from tests.conftest import TODAY, read_table

ANALYTICS = ("campaign_analytics", "ad_group_analytics", "ad_analytics", "pin_analytics")


def _writers(out: Path) -> dict[str, str]:
    """Each analytics file -> the run that wrote it (from the file's Parquet metadata)."""
    return {str(p.relative_to(out)): pl.read_parquet_metadata(p)["pinsync.run_id"]
            for stream in ANALYTICS for p in (out / stream).rglob(DATA_FILE)}


def _month(rel: str) -> str:
    return rel.split("month=")[1][:7]


def _tables(out: Path) -> dict[str, pl.DataFrame]:
    return {s: read_table(out, s).drop("run_id", strict=False).sort(pl.all()) for s in ANALYTICS}


def _partitions(state_file: Path, stream: str) -> dict[str, dict[str, str]]:
    return {k: v.get("partitions", {}) for k, v in json.loads(state_file.read_text())["bookmarks"][stream].items()}


TWO_MONTHS = {"start_date": (TODAY - dt.timedelta(days=40)).isoformat()}     # October 20 - November 28


@pytest.fixture
def config(make_config):
    return make_config(TWO_MONTHS)


def test_a_rerun_rewrites_only_the_months_whose_rows_changed(fake, make_config, tmp_path):
    config = make_config({**TWO_MONTHS, "analytics": {"lookback_days": 40}})    # both months fetched again
    first = pinsync.run(config, today=TODAY)
    out = tmp_path / "out"
    before = _writers(out)
    assert before and set(before.values()) == {first.run_id}
    assert {_month(f) for f in before} == {"2026-10", "2026-11"}

    fake.restate(days=2)            # the last days' spend, conversions and pin metrics change
    second = pinsync.run(config, today=TODAY)
    after = _writers(out)
    assert after.keys() == before.keys()
    rewritten = {f for f in after if after[f] == second.run_id}
    assert rewritten and {_month(f) for f in rewritten} == {"2026-11"}
    assert {f.split("/")[0] for f in rewritten} == set(ANALYTICS)
    for stream in ANALYTICS:
        st = second.streams[stream]
        assert st.files_unchanged == len([f for f in after if f.startswith(stream) and _month(f) == "2026-10"])
        assert st.files_written == len([f for f in rewritten if f.startswith(stream)])

    # what is on disk is exactly what a sync from scratch of the restated data gives
    fresh = make_config({**TWO_MONTHS, "output": {"url": str(tmp_path / "fresh")},
                         "state": {"url": str(tmp_path / "fresh-state.json")}})
    pinsync.run(fresh, today=TODAY)
    for stream, df in _tables(out).items():
        assert df.equals(_tables(tmp_path / "fresh")[stream]), stream


def test_a_weekly_rerun_leaves_alone_the_month_its_first_week_starts_in(fake, make_config, tmp_path):
    """A WEEK re-run starts on the Monday before ``today - lookback_days``: with 28 days on
    Sunday November 29 that is October 26, so October's file is fetched again and must still
    be vouched for (by its fingerprint), or it is rewritten though nothing in it changed."""
    config = make_config({**TWO_MONTHS, "analytics": {"granularity": "WEEK", "lookback_days": 28}},
                         streams=["campaigns", "campaign_analytics"])
    first = pinsync.run(config, today=TODAY)
    files = _writers(tmp_path / "out")
    assert {_month(f) for f in files} == {"2026-10", "2026-11"}
    fake.requests.clear()
    again = pinsync.run(config, today=TODAY)
    assert {q["start_date"][0] for m, p, q in fake.requests if p.endswith("/campaigns/analytics")} == {"2026-10-26"}
    st = again.streams["campaign_analytics"]
    assert st.files_written == 0 and st.files_unchanged == len(files)     # October's too
    assert set(_writers(tmp_path / "out").values()) == {first.run_id}


def test_a_month_file_removed_by_hand_is_fetched_and_written_again_in_full(config, tmp_path, caplog):
    pinsync.run(config, today=TODAY)
    out = tmp_path / "out"
    reference = _tables(out)
    victim = next(p for p in sorted((out / "ad_analytics").rglob(DATA_FILE)) if _month(str(p)) == "2026-11")
    victim.unlink()
    again = pinsync.run(config, today=TODAY)
    assert victim.is_file() and "is missing; fetching the whole history again" in caplog.text
    assert again.streams["ad_analytics"].files_written >= 1
    for stream, df in _tables(out).items():       # November 1-23 too, not only the look-back days
        assert df.equals(reference[stream]), stream


def test_a_crash_after_changed_files_land_never_leaves_them_behind_an_old_fingerprint(
        fake, config, tmp_path, monkeypatch):
    """Run 1 writes A. Run 2 writes B for the last days and dies before its bookmark is saved.
    The data then reverts to A: run 3 must write A again, not trust run 1's fingerprints."""
    pinsync.run(config, today=TODAY)
    out, state_file = tmp_path / "out", tmp_path / "state" / "state.json"
    original = _tables(out)
    vouched = _partitions(state_file, "ad_analytics")

    fake.restate(days=2)
    real = Sink.merge_months

    def land_then_die(self, stream, *args, **kwargs):
        result = real(self, stream, *args, **kwargs)
        if stream == "ad_analytics":
            raise SinkError("simulated crash after the files landed")
        return result
    monkeypatch.setattr(Sink, "merge_months", land_then_die)
    with pytest.raises(SinkError):
        pinsync.run(config, today=TODAY)
    monkeypatch.setattr(Sink, "merge_months", real)

    assert not _tables(out)["ad_analytics"].equals(original["ad_analytics"])     # B is on disk
    now = _partitions(state_file, "ad_analytics")
    recent = {"month=2026-11"}
    # the state stopped vouching for the months that changed, and still vouches for the rest:
    # every fingerprint it holds is that of the file on disk
    assert any(recent & (vouched[a].keys() - now[a].keys()) for a in vouched)
    for account, parts in now.items():
        assert parts.keys() <= vouched[account].keys()
        assert not (vouched[account].keys() - parts.keys()) - recent
        for leaf, fp in parts.items():
            rel = f"ad_account_id={account}/{leaf}"
            assert content_hash(pl.read_parquet(out / "ad_analytics" / rel / DATA_FILE)) == fp

    fake.analytics_state.versions.clear()                              # the data is A again
    pinsync.run(config, today=TODAY)
    assert _tables(out)["ad_analytics"].equals(original["ad_analytics"])


def test_full_refresh_rewrites_unchanged_partitions_too(config, tmp_path):
    pinsync.run(config, today=TODAY)
    state_file = tmp_path / "state" / "state.json"
    vouched = _partitions(state_file, "campaign_analytics")
    again = pinsync.run(config, today=TODAY, full_refresh=True)
    assert set(_writers(tmp_path / "out").values()) == {again.run_id}
    assert _partitions(state_file, "campaign_analytics") == vouched


def test_other_settings_are_not_compared_with_old_fingerprints(config, make_config, tmp_path):
    pinsync.run(config, today=TODAY)
    other = make_config({**TWO_MONTHS, "analytics": {"columns": ["SPEND_IN_DOLLAR", "CAMPAIGN_ID", "AD_ID", "AD_GROUP_ID"]}})
    again = pinsync.run(other, today=TODAY)
    ads = {f: w for f, w in _writers(tmp_path / "out").items() if not f.startswith("pin_analytics")}
    assert set(ads.values()) == {again.run_id}
    assert all(again.streams[s].files_unchanged == 0 for s in ANALYTICS if s != "pin_analytics")
    assert again.streams["pin_analytics"].files_written == 0      # its settings did not change


def test_an_account_whose_entities_are_gone_loses_its_partition_and_nothing_else(make_config, dataset, tmp_path):
    config = make_config(streams=["campaigns"])
    assert pinsync.run(config, today=TODAY).ok
    gone, kept = (a["id"] for a in dataset.ad_accounts)
    dataset.campaigns[:] = [c for c in dataset.campaigns if c["ad_account_id"] != gone]
    dataset.reindex()
    before = sorted(p.name for p in (tmp_path / "out" / "campaigns").iterdir())
    assert before == [f"ad_account_id={a}" for a in sorted((gone, kept))]
    again = pinsync.run(config, today=TODAY).streams["campaigns"]
    assert (again.files_deleted, again.files_written) == (1, 0)
    assert [p.name for p in (tmp_path / "out" / "campaigns").iterdir()] == [f"ad_account_id={kept}"]


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def test_a_truncated_entity_file_is_written_again_and_reported(make_config, tmp_path):
    """Its content hash still matches the state and the file "exists": only its footer tells."""
    config = make_config(streams=["campaigns"])
    pinsync.run(config, today=TODAY)
    out = tmp_path / "out"
    reference = read_table(out, "campaigns").sort("id")
    victim = sorted((out / "campaigns").rglob(DATA_FILE))[0]
    _truncate(victim)
    again = pinsync.run(config, today=TODAY)
    assert again.streams["campaigns"].files_written == 1
    assert [w for w in again.warnings if "unreadable (truncated or corrupt)" in w and str(victim) in w]
    assert read_table(out, "campaigns").sort("id").equals(reference)


def test_a_truncated_month_file_in_the_window_is_repaired_and_reported(config, tmp_path):
    pinsync.run(config, today=TODAY)
    out = tmp_path / "out"
    reference = _tables(out)
    victim = next(p for p in sorted((out / "ad_analytics").rglob(DATA_FILE)) if _month(str(p)) == "2026-11")
    _truncate(victim)
    again = pinsync.run(config, today=TODAY)
    assert again.ok
    assert [w for w in again.warnings if str(victim) in w and "fetching the whole history again" in w]
    for stream, df in _tables(out).items():       # November 1-23 too, not only the look-back days
        assert df.equals(reference[stream]), stream


@pytest.mark.parametrize("shared_state", [False, True])
def test_configurations_sharing_an_output_each_leave_files_of_their_own_columns(make_config, tmp_path, shared_state):
    """Another ``analytics.columns`` set writing the same month files: each run rewrites them
    whole with its own columns and settings - never skipped as "unchanged" on the strength of
    its own state, never mixed with the other configuration's columns."""
    few = ["SPEND_IN_DOLLAR", "CAMPAIGN_ID", "AD_ID", "AD_GROUP_ID"]
    state_b = {} if shared_state else {"state": {"url": str(tmp_path / "state-b" / "state.json")}}
    a = make_config({**TWO_MONTHS, "streams": ["campaign_analytics"]})
    b = make_config({**TWO_MONTHS, "streams": ["campaign_analytics"], "analytics": {"columns": few}, **state_b})
    fresh = {}
    for name, cfg in (("a", a), ("b", b)):
        alone = make_config({**TWO_MONTHS, "streams": ["campaign_analytics"], "output": {"url": str(tmp_path / name)},
                             "state": {"url": str(tmp_path / f"{name}-state.json")},
                             **({"analytics": {"columns": few}} if name == "b" else {})})
        pinsync.run(alone, today=TODAY)
        fresh[name] = read_table(tmp_path / name, "campaign_analytics").drop("month").sort("campaign_id", "date")
    assert "paid_impression" in fresh["a"].columns and "paid_impression" not in fresh["b"].columns
    out = tmp_path / "out"
    for name, cfg in (("a", a), ("b", b), ("a", a), ("b", b)):
        result = pinsync.run(cfg, today=TODAY)
        assert result.streams["campaign_analytics"].files_unchanged == 0, name
        got = read_table(out, "campaign_analytics").drop("month").sort("campaign_id", "date")
        assert got.columns == fresh[name].columns, name
        assert got.equals(fresh[name]), name
