"""Hostile pagination: a page with no items but a bookmark does not end a listing early,
and a server handing out fresh bookmarks forever is stopped with a clear error, having
written nothing of that listing."""

from __future__ import annotations

import pinsync
from pinsync import api
from tests.conftest import TODAY, read_table


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
