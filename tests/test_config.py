"""Tests for pinsync.config: every bad config is reported by key, good ones load typed."""

from __future__ import annotations

import copy
import datetime as dt
import os
from pathlib import Path

import pytest

from pinsync import api, secrets
from pinsync.config import (
    DEFAULT_ANALYTICS_COLUMNS,
    AuthConfig,
    Config,
    config_from_dict,
    load_config,
)
from pinsync.errors import ConfigError
from pinsync.streams import DEFAULT_STREAMS, STREAM_NAMES

TODAY = dt.date(2025, 6, 15)
SECRET = "SUPERSECRET-7f3a9c"
REPO = Path(__file__).resolve().parents[1]
BASE = {"auth": {"access_token": "tok-valid-0001"}}
DELETE = object()


def variant(changes: dict) -> dict:
    """BASE with dotted keys set (or removed with DELETE)."""
    data = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = data
        for p in parents:
            node = node.setdefault(p, {})
        if value is DELETE:
            node.pop(last, None)
        else:
            node[last] = value
    return data


def load(data: dict, **kw) -> Config:
    kw.setdefault("today", TODAY)
    kw.setdefault("env", {})
    return config_from_dict(data, **kw)


def problems_of(data: dict, **kw) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(data, **kw)
    assert info.value.exit_code == 2
    return info.value.problems


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- bad configs, one problem each
BAD = [
    # unknown keys
    ("unknown top key", {"stream": ["ads"]}, ["stream: unknown key", "did you mean 'streams'"]),
    ("unknown nested key", {"analytics.granularty": "DAY"},
     ["analytics.granularty: unknown key", "did you mean 'granularity'"]),
    ("unknown deep key", {"http.timeout": 5}, ["http.timeout: unknown key", "'timeout_seconds'"]),
    ("unknown auth key", {"auth.acess_token": "x"}, ["auth.acess_token: unknown key", "'access_token'"]),
    ("unknown rate category", {"rate_limits.ads_reed": 10}, ["rate_limits.ads_reed: unknown key", "'ads_read'"]),
    # wrong types
    ("int as string", {"max_workers": "8"}, ["max_workers: must be an integer (got string)"]),
    ("bool is not int", {"max_workers": True}, ["max_workers: must be an integer (got boolean)"]),
    ("float for int", {"http.retry_budget": 1.5}, ["http.retry_budget: must be an integer (got number)"]),
    ("number as string", {"http.timeout_seconds": "fast"}, ["http.timeout_seconds: must be a number (got string)"]),
    ("bool is not number", {"http.max_retry_wait_seconds": True}, ["http.max_retry_wait_seconds: must be a number"]),
    ("section not mapping", {"output": "data"}, ["output: must be a mapping (got string)"]),
    ("list not string", {"streams": "campaigns"}, ["streams: must be a list (got string)"]),
    ("bool field", {"pin_analytics.split_by_app_type": "yes"},
     ["pin_analytics.split_by_app_type: must be true or false (got string)"]),
    ("storage_options not mapping", {"state.storage_options": ["a"]},
     ["state.storage_options: must be a mapping (got list)"]),
    ("url not string", {"output.url": 5}, ["output.url: must be a string (got integer)"]),
    ("empty url", {"state.url": " "}, ["state.url: must not be empty"]),
    ("credential not string", {"auth.access_token": ["a"]}, ["auth.access_token: must be a string (got list)"]),
    ("account id type", {"ad_account_ids": [1.5]}, ["ad_account_ids: must be a string or integer (got number)"]),
    ("account id digits", {"ad_account_ids": ["12a"]}, ["ad_account_ids: '12a' is not an ad account id"]),
    # ranges
    ("workers too low", {"max_workers": 0}, ["max_workers: must be between 1 and 64 (got 0)"]),
    ("workers too high", {"max_workers": 65}, ["max_workers: must be between 1 and 64 (got 65)"]),
    ("buffer too small", {"buffer_mb": 4}, ["buffer_mb: must be >= 8 (got 4)"]),
    ("buffer not a number", {"buffer_mb": "lots"}, ["buffer_mb: must be an integer (got string)"]),
    ("lookback too long", {"analytics.lookback_days": 90}, ["analytics.lookback_days: must be between 0 and 89"]),
    ("negative retries", {"http.max_retries": -1}, ["http.max_retries: must be >= 0 (got -1)"]),
    ("zero timeout", {"http.timeout_seconds": 0}, ["http.timeout_seconds: must be a positive number"]),
    ("rate limit not positive", {"rate_limits.org_analytics": -5},
     ["rate_limits.org_analytics: must be a positive number"]),
    ("api url scheme", {"api_url": "ftp://api.pinterest.com/v5"}, ["api_url: must be an http(s) URL"]),
    ("api url no host", {"api_url": "api.pinterest.com"}, ["api_url: must be an http(s) URL"]),
    # dates
    ("date format", {"start_date": "2025/01/01"}, ["start_date: must be a date YYYY-MM-DD (got '2025/01/01')"]),
    ("date not real", {"start_date": "2025-02-30"}, ["start_date: 2025-02-30 is not a real date"]),
    ("date in future", {"start_date": "2025-06-16"}, ["start_date: 2025-06-16 is in the future"]),
    ("date type", {"start_date": 20250101}, ["start_date: must be a date YYYY-MM-DD (got integer)"]),
    ("datetime is not date", {"start_date": dt.datetime(2025, 1, 1, 10)}, ["start_date: must be a date"]),
    # names
    ("unknown stream", {"streams": ["campaigns", "campains"]},
     ["streams: unknown stream 'campains'", "did you mean 'campaigns'"]),
    ("stream not string", {"streams": [3]}, ["streams: each stream must be a string (got integer)"]),
    ("unknown column", {"analytics.columns": ["SPEND_IN_DOLLARS"]},
     ["analytics.columns: unknown column 'SPEND_IN_DOLLARS'", "SPEND_IN_DOLLAR"]),
    ("column case", {"analytics.columns": ["ctr"]}, ["unknown column 'ctr'", "CTR"]),
    ("empty columns", {"analytics.columns": []}, ["analytics.columns: must not be empty"]),
    ("unknown entity status", {"entity_statuses": ["ACTIV"]},
     ["entity_statuses: unknown entity status 'ACTIV'", "'ACTIVE'"]),
    ("bad granularity", {"analytics.granularity": "DAILY"},
     ["analytics.granularity: must be one of TOTAL, DAY, HOUR, WEEK, MONTH (got 'DAILY')"]),
    ("bad click window", {"analytics.click_window_days": 3},
     ["analytics.click_window_days: must be one of 0, 1, 7, 14, 30, 60 (got 3)"]),
    ("window as string", {"analytics.view_window_days": "7"}, ["analytics.view_window_days: must be one of"]),
    ("window as bool", {"analytics.engagement_window_days": True}, ["analytics.engagement_window_days: must be"]),
    ("bad conversion time", {"analytics.conversion_report_time": "TIME_OF_CLICK"},
     ["analytics.conversion_report_time: must be one of TIME_OF_AD_ACTION, TIME_OF_CONVERSION"]),
    ("bad metric type", {"pin_analytics.metric_types": ["IMPRESSIONS"]},
     ["pin_analytics.metric_types: unknown metric type 'IMPRESSIONS'", "did you mean 'IMPRESSION'"]),
    ("bad targeting type", {"targeting_analytics.targeting_types": ["AGE_BUCKETS"]},
     ["targeting_analytics.targeting_types: unknown targeting type 'AGE_BUCKETS'", "did you mean 'AGE_BUCKET'"]),
    ("no targeting type", {"targeting_analytics.targeting_types": []},
     ["targeting_analytics.targeting_types: must not be empty"]),
    ("more targeting types than a call takes", {"targeting_analytics.targeting_types": list(api.TARGETING_TYPES[:15])},
     ["targeting_analytics.targeting_types: at most 14 (what one call allows; got 15)"]),
    ("bad user metric type", {"user_account_analytics.metric_types": ["CLOSEUP"]},
     ["user_account_analytics.metric_types: unknown metric type 'CLOSEUP'"]),
    ("a pin metric is not a user account metric", {"user_account_analytics.metric_types": ["PROFILE_VISIT"]},
     ["user_account_analytics.metric_types: unknown metric type 'PROFILE_VISIT'"]),
    ("bad split field", {"user_account_analytics.split_field": "BOARD"},
     ["user_account_analytics.split_field: must be one of NO_SPLIT, APP_TYPE, OWNED_CONTENT, SOURCE, PIN_FORMAT "
      "(got 'BOARD')"]),
    ("unknown targeting key", {"targeting_analytics.targeting_type": ["GENDER"]},
     ["targeting_analytics.targeting_type: unknown key (did you mean 'targeting_types'?)"]),
    # credentials
    ("no credentials", {"auth": {}}, ["auth: no usable credentials: set auth.access_token, or auth.client_id"]),
    ("no auth section", {"auth": DELETE}, ["auth: no usable credentials"]),
    ("empty token", {"auth.access_token": "  "}, ["auth: no usable credentials"]),
    ("partial refresh", {"auth": {"client_id": "1234", "refresh_token": "r-token"}},
     ["auth: no usable credentials", "missing: auth.client_secret"]),
    ("missing env var", {"auth": {"client_id": "1", "client_secret": "${PINTEREST_CLIENT_SECRET}",
                                  "refresh_token": "r"}},
     ["auth.client_secret: environment variable PINTEREST_CLIENT_SECRET is not set"]),
    ("missing env var elsewhere", {"output.url": "${OUT_ROOT}/data"},
     ["output.url: environment variable OUT_ROOT is not set"]),
]


@pytest.mark.parametrize("changes, expected", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_config_names_the_key(changes, expected):
    problems = problems_of(variant(changes))
    assert len(problems) == 1, problems
    message = str(ConfigError(problems))
    for fragment in expected:
        assert fragment in message


def test_missing_env_var_for_credential_is_the_only_auth_problem():
    problems = problems_of({"auth": {"access_token": "${PINTEREST_ACCESS_TOKEN}"}})
    assert problems == ["auth.access_token: environment variable PINTEREST_ACCESS_TOKEN is not set"]


def test_several_problems_reported_at_once():
    data = {
        "auth": {},
        "streamz": [],
        "start_date": "2025-13-01",
        "streams": ["ads", "adz", "pinz"],
        "analytics": {"granularity": "DAILY", "columns": ["CTR", "CTRR"]},
        "max_workers": True,
        "http": {"timeout_seconds": -1},
    }
    problems = problems_of(data)
    keys = sorted(p.split(":")[0] for p in problems)
    assert keys == sorted(["auth", "streamz", "start_date", "streams", "streams", "analytics.granularity",
                           "analytics.columns", "max_workers", "http.timeout_seconds"]), problems
    assert len(problems) == 9


# --------------------------------------------------------------------------- files
def test_malformed_yaml_names_file_and_line(tmp_path):
    path = write(tmp_path / "bad.yaml", "api_url: https://x\nauth:\n  access_token: a: b\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert str(path) in str(info.value) and "line 3" in str(info.value)


def test_malformed_yaml_does_not_echo_the_line(tmp_path):
    path = write(tmp_path / "bad.yaml", f"auth:\n  access_token: {SECRET}: [\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert "line 2" in str(info.value) and SECRET not in str(info.value)


@pytest.mark.parametrize("text, line", [
    ("analytics:\n  lookback_days: 3\nanalytics:\n  lookback_days: 4\n", 3),       # a section twice
    ("analytics:\n  lookback_days: 3\n  lookback_days: 4\n", 3),                     # a key twice
])
def test_a_key_given_twice_is_refused_naming_it_and_its_line(tmp_path, text, line):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path / "c.yaml", text), env={}, require_credentials=False)
    assert "duplicate key" in str(info.value) and f"line {line}" in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found: .*nope.yaml"):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_top_level_must_be_mapping(tmp_path, text):
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(write(tmp_path / "c.yaml", text), env={})


def test_empty_file_means_defaults(tmp_path):
    config = load_config(write(tmp_path / "c.yaml", ""), env={}, today=TODAY, require_credentials=False)
    assert config.analytics.granularity == "DAY" and config.auth.access_token is None


def test_unquoted_yaml_date_is_accepted(tmp_path):
    path = write(tmp_path / "c.yaml", "start_date: 2025-01-02\nauth: {access_token: tok-valid-0001}\n")
    assert load_config(path, env={}, today=TODAY).start_date == dt.date(2025, 1, 2)


def test_unquoted_impossible_yaml_date_is_a_problem_not_a_crash(tmp_path):
    path = write(tmp_path / "c.yaml", "start_date: 2025-02-30\nauth: {access_token: tok-valid-0001}\n")
    with pytest.raises(ConfigError, match="start_date: 2025-02-30 is not a real date"):
        load_config(path, env={}, today=TODAY)


def test_example_pinsync_yaml_loads():
    config = load_config(REPO / "pinsync.yaml", env={"PINTEREST_ACCESS_TOKEN": "x"})
    assert config.api_url == api.DEFAULT_API_URL
    assert config.streams == DEFAULT_STREAMS
    assert config.analytics.columns == DEFAULT_ANALYTICS_COLUMNS
    assert config.source == str(REPO / "pinsync.yaml")
    assert config.output.url == str(REPO / "data")


def test_example_pinsync_yaml_without_credentials():
    with pytest.raises(ConfigError, match="no usable credentials"):
        load_config(REPO / "pinsync.yaml", env={})
    assert load_config(REPO / "pinsync.yaml", env={}, require_credentials=False).auth.access_token is None


# --------------------------------------------------------------------------- good configs
def test_defaults():
    config = load(BASE)
    assert config.start_date == TODAY - dt.timedelta(days=30)
    assert config.streams == DEFAULT_STREAMS and config.named_streams == ()
    assert config.entity_statuses == api.ENTITY_STATUSES
    assert config.rate_limits == {k: float(v) for k, v in api.RATE_LIMITS_PER_MINUTE.items()}
    assert (config.max_workers, config.http.timeout_seconds, config.http.retry_budget) == (8, 60.0, 500)
    assert config.buffer_mb == 64
    assert config.analytics.view_window_days == 1 and config.pin_analytics.split_by_app_type is False
    assert config.ad_account_ids == () and config.source is None
    assert set(DEFAULT_ANALYTICS_COLUMNS) <= set(api.ANALYTICS_COLUMNS)
    assert config.targeting_analytics.targeting_types == ("AGE_BUCKET", "GENDER", "COUNTRY", "APPTYPE", "PLACEMENT")
    assert config.user_account_analytics.metric_types == ("IMPRESSION", "SAVE", "PIN_CLICK", "OUTBOUND_CLICK",
                                                           "ENGAGEMENT")
    assert config.user_account_analytics.split_field == "NO_SPLIT"


def test_the_default_selection_is_the_core_streams_and_all_is_every_stream():
    assert DEFAULT_STREAMS == ("ad_accounts", "campaigns", "ad_groups", "ads", "pins", "campaign_analytics",
                               "ad_group_analytics", "ad_analytics", "pin_analytics", "pin_lifetime_metrics")
    every = load(variant({"streams": ["all"]}))
    assert every.streams == STREAM_NAMES and len(STREAM_NAMES) == 29 and every.named_streams == ()
    named = load(variant({"streams": ["keywords", "campaigns", "keywords"]}))
    assert named.streams == named.named_streams == ("campaigns", "keywords")      # registry order, once
    both = load(variant({"streams": ["all", "boards"]}))
    assert both.streams == STREAM_NAMES and both.named_streams == ("boards",)
    assert problems_of(variant({"streams": ["alll"]})) == ["streams: unknown stream 'alll' (did you mean 'all'?)"]


def test_targeting_and_user_account_settings_are_read():
    config = load(variant({"targeting_analytics.targeting_types": ["GENDER", "QUIZ_RESULT", "GENDER"],
                           "user_account_analytics": {"metric_types": ["SAVE_RATE"], "split_field": "PIN_FORMAT"}}))
    assert config.targeting_analytics.targeting_types == ("GENDER", "QUIZ_RESULT")
    assert (config.user_account_analytics.metric_types, config.user_account_analytics.split_field) == (
        ("SAVE_RATE",), "PIN_FORMAT")
    assert load(variant({"targeting_analytics.targeting_types": list(api.TARGETING_TYPES[:14])}))


def test_default_today_is_utc_date(monkeypatch):
    monkeypatch.delenv("PINSYNC_TODAY")
    config = config_from_dict(BASE, env={})
    utc_today = dt.datetime.now(dt.timezone.utc).date()
    assert config.start_date in {utc_today - dt.timedelta(days=30), utc_today - dt.timedelta(days=31)}


def test_null_means_default():
    config = load(variant({"max_workers": None, "analytics": None, "start_date": None}))
    assert config.max_workers == 8 and config.analytics.granularity == "DAY"


def test_types_are_normalised():
    config = load(variant({
        "ad_account_ids": [123, "456", "123"], "streams": ["ads", "campaigns", "ads"],
        "http.timeout_seconds": 5, "rate_limits.ads_analytics": 150, "api_url": "https://api-sandbox.pinterest.com/v5/",
        "auth.client_id": 1234567, "start_date": "2025-06-15",
    }))
    assert config.ad_account_ids == ("123", "456")
    assert config.streams == ("campaigns", "ads")  # registry order
    assert config.http.timeout_seconds == 5.0 and isinstance(config.http.timeout_seconds, float)
    assert config.rate_limits["ads_analytics"] == 150.0 and config.rate_limits["ads_read"] == 1000.0
    assert config.api_url == "https://api-sandbox.pinterest.com/v5"
    assert config.auth.client_id == "1234567"
    assert config.start_date == TODAY


def test_refresh_credentials():
    config = load({"auth": {"client_id": "1234", "client_secret": "cs-secret", "refresh_token": "rt-secret"}})
    assert config.auth.uses_refresh and config.auth.access_token is None
    assert not load(BASE).auth.uses_refresh


def test_require_credentials_false_tolerates_unset_credential_vars():
    config = load({"auth": {"access_token": "${PINTEREST_ACCESS_TOKEN}"}}, require_credentials=False)
    assert config.auth.access_token is None


def test_env_expansion_with_defaults():
    env = {"ROOT": "/srv", "EMPTY": "", "TOKEN": "tok-from-env"}
    config = load({
        "auth": {"access_token": "${TOKEN}"},
        "output": {"url": "${ROOT}/${SUB:-pins}/${EMPTY:-x}", "storage_options": {"anon": "${ANON:-yes}"}},
        "state": {"url": "${ROOT}${EMPTY}/state.json"},
        "analytics": {"granularity": "${GRAN:-WEEK}"},
    }, env=env)
    assert config.auth.access_token == "tok-from-env"
    assert config.output.url == "/srv/pins/x"
    assert config.output.storage_options == {"anon": "yes"}
    assert config.state.url == "/srv/state.json"
    assert config.analytics.granularity == "WEEK"


def test_expanded_values_are_validated():
    problems = problems_of(variant({"analytics.granularity": "${GRAN:-DAILY}"}))
    assert problems == ["analytics.granularity: must be one of TOTAL, DAY, HOUR, WEEK, MONTH (got 'DAILY')"]


def test_relative_paths_resolve_against_config_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path / "conf" / "pinsync.yaml",
                 "auth: {access_token: tok-valid-0001}\noutput: {url: out}\nstate: {url: st/state.json}\n")
    config = load_config("conf/pinsync.yaml", env={}, today=TODAY)
    folder = tmp_path / "conf"
    assert config.output.url == str(folder / "out")
    assert config.state.url == str(folder / "st" / "state.json")
    assert config.auth.token_store == str(folder / "st" / "tokens.json")
    assert config.source == str(path)


def test_token_store_relative_and_url_paths(tmp_path):
    config = load(variant({"auth.token_store": "secrets/t.json", "output.url": "s3://bucket/prefix",
                           "state.url": "memory://st/state.json"}), base_dir=tmp_path)
    assert config.auth.token_store == str(tmp_path / "secrets" / "t.json")
    assert config.output.url == "s3://bucket/prefix"
    assert config.state.url == "memory://st/state.json"
    config = load(variant({"state.url": "s3://bucket/state/state.json"}), base_dir=tmp_path)
    assert config.auth.token_store == "s3://bucket/state/tokens.json"
    assert config.output.url == str(tmp_path / "data")


def test_dict_input_resolves_against_cwd_by_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load(BASE).output.url == str(tmp_path / "data")


def test_overrides_are_applied_and_validated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path / "conf" / "pinsync.yaml", "auth: {access_token: tok-valid-0001}\nstreams: [pins]\n")
    overrides = {"streams": ["campaigns", "ads"], "start_date": "2025-05-01", "output.url": "cli-out",
                 "ad_account_ids": ["123"], "analytics.granularity": None}
    config = load_config(path, env={}, today=TODAY, overrides=overrides)
    assert config.streams == ("campaigns", "ads")
    assert config.start_date == dt.date(2025, 5, 1)
    assert config.ad_account_ids == ("123",)
    assert config.output.url == str(tmp_path / "cli-out")                      # cwd, not the config folder
    assert config.state.url == str(tmp_path / "conf" / "state" / "state.json")  # untouched: config folder
    assert config.analytics.granularity == "DAY"                                # None overrides are ignored
    with pytest.raises(ConfigError) as info:
        load_config(path, env={}, today=TODAY, overrides={"streams": ["bogus"], "start_date": "2030-01-01"})
    assert len(info.value.problems) == 2
    assert "streams: unknown stream 'bogus'" in str(info.value) and "start_date: 2030-01-01" in str(info.value)


def test_overrides_do_not_mutate_input():
    data = variant({"output": {"url": "x"}})
    before = copy.deepcopy(data)
    load(data, overrides={"output.url": "/y", "http.max_retries": 2})
    assert data == before


# --------------------------------------------------------------------------- secrets
def test_secrets_never_in_messages_or_repr(tmp_path):
    data = {"auth": {"access_token": SECRET, "client_secret": SECRET + "-cs", "refresh_token": SECRET + "-rt",
                     "client_id": "1234"},
            "output": {"storage_options": {"key": "AKIA-ID-0001", "secret": SECRET + "-s3", "anon": False}},
            "max_workers": "many"}
    with pytest.raises(ConfigError) as info:
        load(data)
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)
    del data["max_workers"]
    config = load(data)
    for text in (repr(config), str(config), repr(config.auth), repr(config.output)):
        assert SECRET not in text and "AKIA-ID-0001" not in text
    assert "access_token='***'" in repr(config.auth) and "client_id='1234'" in repr(config.auth)
    assert config.output.storage_options["secret"] == SECRET + "-s3"  # the value itself is kept
    for registered in (SECRET, SECRET + "-s3", "AKIA-ID-0001"):
        assert secrets.redact(f"x {registered} y") == "x *** y"


def test_secret_type_error_does_not_echo_value():
    problems = problems_of({"auth": {"access_token": {SECRET: 1}}})
    assert SECRET not in "".join(problems)


def test_replace():
    config = load(BASE)
    changed = config.replace(max_workers=2)
    assert changed.max_workers == 2 and config.max_workers == 8
    assert isinstance(changed.auth, AuthConfig)
    with pytest.raises(AttributeError):
        config.max_workers = 3  # frozen


def test_no_network_or_writes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    load(variant({"output.url": "out", "state.url": "st/state.json"}))
    assert os.listdir(tmp_path) == []
