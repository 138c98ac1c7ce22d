"""Hostile payloads.

Pagination: a page with no items but a bookmark does not end a listing early, and a server
handing out fresh bookmarks forever is stopped with a clear error, having written nothing of
that listing. Partition keys: a record naming another ad account than the one it was listed
under, or an analytics row dated outside the days asked for (or not dated), is an error naming
stream, field and record, and no file or bookmark changes. Values: a null or unreadable id,
NaN and Infinity are errors naming stream, field and record; a lone UTF-16 surrogate in free
text is replaced with U+FFFD, with one warning.
"""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

import pinsync
from pinsync import api
from pinsync.config import config_from_dict
from pinsync.fake import Dataset, FakePinterest, FakeServer
from pinsync.streams import STREAMS, per_account
from tests.conftest import TODAY, TOKEN, data_files, read_table


def test_an_empty_page_with_a_bookmark_does_not_end_the_listing(make_config, fake, tmp_path):
    fake.add_fault("campaigns", "empty_page", times=3)     # the first pages come back empty, with a way on
    config = make_config(streams=["campaigns"])
    result = pinsync.run(config, today=TODAY)
    assert result.ok, result.failures
    got = read_table(tmp_path / "out", "campaigns")
    assert sorted(got["id"].to_list()) == sorted(c["id"] for c in fake.dataset.campaigns)
    assert fake.faults_pending() == 0


def test_endless_fresh_bookmarks_stop_with_an_error_and_write_nothing(make_config, fake, tmp_path):
    account = fake.dataset.ad_accounts[0]["id"]
    fake.add_fault("campaigns", "empty_page", times=10**6)
    config = make_config(streams=["campaigns"], ad_account_ids=[account])
    result = pinsync.run(config, today=TODAY, raise_on_failure=False)
    assert not result.ok
    assert len(result.failures) == 1 and "kept handing out new bookmarks" in result.failures[0]
    assert fake.calls["campaigns"] == api.LISTING_MAX_EMPTY_PAGES          # bounded, not 994 a minute
    assert not (tmp_path / "out" / "campaigns").exists()


# -- hostile partition keys: the account listed and the days asked decide where rows go ------------

def _snapshot(tmp_path) -> tuple[dict, dict]:
    """Every file below the output (with its mtime), and what the state's bookmarks say (the
    run that wrote them aside: a unit that succeeds again records its run; the reports
    pending aside: a report's token is saved before its first poll)."""
    marks = json.loads((tmp_path / "state" / "state.json").read_bytes())["bookmarks"]
    for keys in marks.values():
        for mark in keys.values():
            mark.pop("last_run")
            mark.pop("reports", None)
    return data_files(tmp_path / "out"), marks


def _every_item(edit):
    """An edit of a listing's answer applied to each of its items."""
    def each(page):
        for item in page["items"]:
            edit(item)
    return each


PER_ACCOUNT_OBJECTS = [s.name for s in STREAMS.values() if s.kind == "entity" and per_account(s)]


def test_every_per_account_object_stream_is_checked():
    assert PER_ACCOUNT_OBJECTS == ["campaigns", "ad_groups", "ads", "keywords", "audiences", "customer_lists",
                                   "conversion_tags", "product_group_promotions"]


@pytest.mark.parametrize("stream", PER_ACCOUNT_OBJECTS)
def test_a_record_naming_another_account_fails_and_no_partition_changes(make_config, fake, tmp_path, stream):
    first, second = (a["id"] for a in fake.dataset.ad_accounts)
    assert pinsync.run(make_config(streams=[stream]), today=TODAY).ok
    before = _snapshot(tmp_path)
    fake.add_fault(stream, "edit", times=10**6, body=_every_item(lambda item: item.update(ad_account_id=first)))
    result = pinsync.run(make_config(streams=[stream], ad_account_ids=[second]), today=TODAY, raise_on_failure=False)
    failure, = result.failures
    assert f"{stream}: field 'ad_account_id' of record '" in failure
    assert f"is '{first}', but the record was listed under ad_account_id '{second}'" in failure
    assert _snapshot(tmp_path) == before                    # neither account's partition, nor the state


def test_a_record_without_an_account_is_kept_under_the_account_listed(make_config, fake, tmp_path):
    second = fake.dataset.ad_accounts[1]["id"]
    fake.add_fault("campaigns", "edit", times=10**6, body=_every_item(lambda item: item.update(ad_account_id=None)))
    assert pinsync.run(make_config(streams=["campaigns"]), today=TODAY).ok
    assert sorted(p.name for p in (tmp_path / "out" / "campaigns").iterdir()) == sorted(
        f"ad_account_id={a['id']}" for a in fake.dataset.ad_accounts)
    got = read_table(tmp_path / "out", "campaigns").filter(pl.col("ad_account_id") == second)
    assert sorted(got["id"]) == sorted(c["id"] for c in fake.dataset.campaigns if c["ad_account_id"] == second)


def _redate(value):
    """An edit of an analytics answer: every row's date (``DATE``, or a day's ``date``) set to ``value``."""
    def edit(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("DATE", "date") and isinstance(v, str):
                    node[k] = value
                else:
                    edit(v)
        elif isinstance(node, list):
            for v in node:
                edit(v)
    return edit


OUTSIDE = (TODAY - dt.timedelta(days=17)).isoformat()       # held, but not asked for again (lookback 15)
# every kind of analytics stream: (stream, the fake's route, the field naming the record)
ANALYTICS = [("campaign_analytics", "campaign_analytics", "campaign_id"),
             ("ad_account_analytics", "ad_account_analytics", "ad_account_id"),
             ("campaign_targeting_analytics", "campaign_targeting_analytics", "campaign_id"),
             ("product_group_analytics", "product_group_analytics", "product_group_id"),
             ("pin_analytics", "multi_pin_analytics", "pin_id"),
             ("user_account_analytics", "user_account_analytics", None)]


@pytest.mark.parametrize("date", [OUTSIDE, None], ids=["outside the days asked", "null"])
@pytest.mark.parametrize("stream, route, id_field", ANALYTICS, ids=[a[0] for a in ANALYTICS])
def test_an_analytics_row_dated_outside_the_days_asked_fails_and_no_month_changes(make_config, fake, tmp_path,
                                                                                  stream, route, id_field, date):
    config = make_config({"analytics": {"lookback_days": 15}}, streams=[stream])
    assert pinsync.run(config, today=TODAY).ok
    before = _snapshot(tmp_path)
    fake.add_fault(route, "edit", times=10**6, body=_redate(date))
    result = pinsync.run(config, today=TODAY, raise_on_failure=False)
    assert result.failures and all(f"{stream}: field 'date' of " in f for f in result.failures), result.failures
    if date is not None:
        assert f"is {OUTSIDE}, outside the days asked for" in result.failures[0]
    if id_field and date is not None:
        assert "of record '" in result.failures[0]
    assert _snapshot(tmp_path) == before
    assert not list((tmp_path / "out").rglob("*None*"))


@pytest.mark.parametrize("date", [OUTSIDE, None], ids=["outside the report's days", "null"])
def test_a_report_row_dated_outside_its_days_fails_and_no_month_changes(tmp_path, date):
    ds = Dataset(seed=3, accounts=1, campaigns_per_account=2, ad_groups_per_campaign=1, ads_per_ad_group=1, pins=1,
                 today=TODAY, history_days=120)
    fake = FakePinterest(ds, access_tokens=(TOKEN,))
    fake.reports.polls_in_progress = 1
    with FakeServer(fake) as srv:
        def config(days_back: int):
            return config_from_dict({
                "api_url": srv.url, "auth": {"access_token": TOKEN}, "streams": ["campaigns", "campaign_analytics"],
                "start_date": (TODAY - dt.timedelta(days=days_back)).isoformat(),
                "output": {"url": str(tmp_path / "out")}, "state": {"url": str(tmp_path / "state" / "state.json")},
                "analytics": {"lookback_days": 5}}, env={}, today=TODAY)
        assert pinsync.run(config(30), today=TODAY).ok
        before = _snapshot(tmp_path)
        # the start date moved back: days older than the synchronous endpoints serve come from a report
        fake.add_fault("report_download", "edit", times=10**6, body=_redate(date))
        result = pinsync.run(config(100), today=TODAY, raise_on_failure=False, sleep=lambda s: None)
        assert fake.calls["create_report"] == 1
    failure, = result.failures
    assert "campaign_analytics: field 'date' of record '" in failure
    assert _snapshot(tmp_path) == before


# -- hostile values: one error naming stream, field and record; or repaired text ----------------------

@pytest.mark.parametrize("field, value, detail", [
    ("id", None, "field 'id' of a record is missing (null)"),
    ("id", {"a": 1}, "field 'id' of record {'a': 1} cannot be read as id"),
    ("id", "\ud800", "field 'id' of record '\\ud800' is not valid Unicode text (it holds a lone UTF-16 surrogate)"),
    ("id", float("nan"), "field 'id' of record nan cannot be read as id"),
    ("daily_spend_cap", float("inf"), "field 'daily_spend_cap' of record '"),
    ("daily_spend_cap", float("nan"), "field 'daily_spend_cap' of record '"),
], ids=["null id", "object id", "lone surrogate id", "NaN id", "Infinity", "NaN"])
def test_a_hostile_entity_value_is_a_payload_error_naming_stream_field_and_record(make_config, fake, tmp_path,
                                                                                  field, value, detail):
    account = fake.dataset.ad_accounts[0]["id"]
    fake.add_fault("campaigns", "edit", body=lambda page: page["items"][1].update({field: value}))
    result = pinsync.run(make_config(streams=["campaigns"], ad_account_ids=[account]), today=TODAY,
                         raise_on_failure=False)
    failure, = result.failures
    assert failure.startswith(f"campaigns (ad account {account}): campaigns: {detail}")
    assert not (tmp_path / "out" / "campaigns").exists()


@pytest.mark.parametrize("value", [float("nan"), float("inf")], ids=["NaN", "Infinity"])
@pytest.mark.parametrize("stream, route", [("campaign_analytics", "campaign_analytics"),
                                           ("pin_analytics", "multi_pin_analytics")])
def test_nan_and_infinity_in_analytics_metrics_name_the_field_and_record(make_config, fake, stream, route, value):
    def edit(node):
        if isinstance(node, dict):
            for k in node:
                if k in ("SPEND_IN_DOLLAR", "SAVE_RATE"):
                    node[k] = value
                else:
                    edit(node[k])
        elif isinstance(node, list):
            for v in node:
                edit(v)
    fake.add_fault(route, "edit", times=10**6, body=edit)
    result = pinsync.run(make_config(streams=[stream]), today=TODAY, raise_on_failure=False)
    field = "spend_in_dollar" if stream == "campaign_analytics" else "save_rate"
    assert result.failures and all(f"{stream}: field '{field}' of record '" in f for f in result.failures)


@pytest.mark.parametrize("stream, route, field", [
    ("campaigns", "campaigns", "name"),
    ("campaign_analytics", "campaign_analytics", "CAMPAIGN_NAME"),
    ("campaign_targeting_analytics", "campaign_targeting_analytics", "targeting_value"),
])
def test_a_lone_surrogate_in_free_text_is_replaced_with_one_warning(make_config, fake, tmp_path, caplog,
                                                                    stream, route, field):
    def edit(node):
        if isinstance(node, dict):
            for k in node:
                if k == field and isinstance(node[k], str):
                    node[k] = "Sale \ud83d" + node[k]    # an emoji cut in half
                else:
                    edit(node[k])
        elif isinstance(node, list):
            for v in node:
                edit(v)
    fake.add_fault(route, "edit", body=edit)
    assert pinsync.run(make_config(streams=[stream]), today=TODAY).ok
    got = read_table(tmp_path / "out", stream)
    column = field.lower()
    assert got.filter(pl.col(column).str.starts_with("Sale \ufffd")).height > 0
    assert not got[column].str.contains("\x00", literal=True).any()
    warned = [m for m in caplog.messages if "lone UTF-16 surrogate" in m]
    assert len(warned) == 1 and warned[0].startswith(f"{stream}: field '{column}' of record ")
