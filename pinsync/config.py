"""Load and validate pinsync's configuration (``pinsync.yaml``).

Pipeline: read the YAML (dates stay strings) -> apply dotted ``overrides`` -> expand
``${VAR}`` / ``${VAR:-default}`` in every string -> check each key against :data:`_SCHEMA`
(default + checker per key) -> cross-field rules (credentials, start date, paths).
Every problem is collected, named by its dotted key, and raised in one ConfigError.
``null`` for any key means "the default". Secrets are registered with
:mod:`pinsync.secrets` as soon as they are loaded and never appear in messages or ``repr``.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import difflib
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import yaml

from pinsync import api, clock, secrets
from pinsync.errors import ConfigError
from pinsync.streams import ALL as ALL_STREAMS
from pinsync.streams import DEFAULT_STREAMS, STREAM_NAMES

DEFAULT_CONFIG_PATH = "pinsync.yaml"
DEFAULT_START_DAYS_BACK = 30
TOKEN_STORE_NAME = "tokens.json"
DEFAULT_ANALYTICS_COLUMNS = (
    "SPEND_IN_DOLLAR", "PAID_IMPRESSION", "TOTAL_IMPRESSION", "TOTAL_CLICKTHROUGH", "TOTAL_ENGAGEMENT",
    "CTR", "ECTR", "CPC_IN_MICRO_DOLLAR", "ECPC_IN_DOLLAR", "CAMPAIGN_ID", "AD_GROUP_ID", "AD_ID",
    "PIN_ID", "AD_ACCOUNT_ID", "CAMPAIGN_NAME", "AD_GROUP_NAME", "AD_NAME",
)
DEFAULT_PIN_METRIC_TYPES = ("IMPRESSION", "OUTBOUND_CLICK", "PIN_CLICK", "SAVE", "SAVE_RATE")
DEFAULT_TARGETING_TYPES = ("AGE_BUCKET", "GENDER", "COUNTRY", "APPTYPE", "PLACEMENT")
DEFAULT_USER_METRIC_TYPES = ("IMPRESSION", "SAVE", "PIN_CLICK", "OUTBOUND_CLICK", "ENGAGEMENT")
_CREDENTIALS = ("access_token", "client_id", "client_secret", "refresh_token")
_REFRESH_TRIO = _CREDENTIALS[1:]
_APP_CREDENTIALS = ("client_id", "client_secret")
_SECRET_CREDENTIALS = ("access_token", "client_secret", "refresh_token")  # client_id is public


def _is_secret_key(name: Any) -> bool:
    """Whether a ``storage_options`` key names a secret (key, secret, token, password...)."""
    n = str(name).lower()
    return n == "key" or n.endswith("_key") or any(w in n for w in ("secret", "token", "password", "credential"))


def _masked(options: Any) -> Any:
    """A copy of ``options`` with the values of secret-looking keys replaced by ``***``."""
    if isinstance(options, Mapping):
        return {k: secrets.MASK if v and _is_secret_key(k) else _masked(v) for k, v in options.items()}
    return options


@dataclass(frozen=True, repr=False)
class AuthConfig:
    """Credentials: an access token alone, or client id + client secret + refresh token.

    Attributes:
        access_token, client_id, client_secret, refresh_token: Non-empty strings or None.
        token_store: Resolved path/URL where rotated refresh tokens are kept.
    """

    access_token: str | None
    client_id: str | None
    client_secret: str | None
    refresh_token: str | None
    token_store: str

    @property
    def uses_refresh(self) -> bool:
        """True when client id, client secret and refresh token are all set."""
        return all(getattr(self, k) for k in _REFRESH_TRIO)

    def __repr__(self) -> str:
        shown = {k: secrets.MASK if k in _SECRET_CREDENTIALS and getattr(self, k) else getattr(self, k)
                 for k in (*_CREDENTIALS, "token_store")}
        return f"AuthConfig({', '.join(f'{k}={v!r}' for k, v in shown.items())})"


@dataclass(frozen=True, repr=False)
class Location:
    """A local path (absolute) or fsspec URL, plus ``storage_options`` handed to fsspec as is."""

    url: str
    storage_options: dict

    def __repr__(self) -> str:
        return f"Location(url={self.url!r}, storage_options={_masked(self.storage_options)!r})"


@dataclass(frozen=True)
class AnalyticsConfig:
    """Ads analytics settings: columns, granularity, look-back and attribution windows."""

    columns: tuple[str, ...]
    granularity: str
    lookback_days: int
    click_window_days: int
    engagement_window_days: int
    view_window_days: int
    conversion_report_time: str


@dataclass(frozen=True)
class PinAnalyticsConfig:
    """Organic pin analytics settings."""

    metric_types: tuple[str, ...]
    split_by_app_type: bool


@dataclass(frozen=True)
class TargetingAnalyticsConfig:
    """What targeting analytics break metrics down by (every level asks for those its endpoint accepts)."""

    targeting_types: tuple[str, ...] = DEFAULT_TARGETING_TYPES


@dataclass(frozen=True)
class UserAccountAnalyticsConfig:
    """The user account's analytics: metrics, and how the days are split."""

    metric_types: tuple[str, ...] = DEFAULT_USER_METRIC_TYPES
    split_field: str = "NO_SPLIT"


@dataclass(frozen=True)
class HttpConfig:
    """Per-request timeout and retry policy, plus the per-run retry budget."""

    timeout_seconds: float
    max_retries: int
    max_retry_wait_seconds: float
    retry_budget: int
    rate_limit_window_seconds: float = 60.0


@dataclass(frozen=True)
class Config:
    """A fully validated configuration; build it with :func:`load_config`.

    ``streams`` is never empty and always in registry order (``STREAM_NAMES``): the streams
    named (with their parents' order), every stream for ``all``, else the default selection;
    ``named_streams`` are those named explicitly (``all`` names none);
    ``rate_limits`` holds every category; ``source`` is the absolute config file path.
    """

    api_url: str
    auth: AuthConfig
    start_date: dt.date
    ad_account_ids: tuple[str, ...]
    streams: tuple[str, ...]
    entity_statuses: tuple[str, ...]
    output: Location
    state: Location
    analytics: AnalyticsConfig
    pin_analytics: PinAnalyticsConfig
    max_workers: int
    rate_limits: dict[str, float]
    buffer_mb: int
    http: HttpConfig
    source: str | None
    named_streams: tuple[str, ...] = ()
    targeting_analytics: TargetingAnalyticsConfig = TargetingAnalyticsConfig()
    user_account_analytics: UserAccountAnalyticsConfig = UserAccountAnalyticsConfig()

    def replace(self, **changes: Any) -> Config:
        """Return a copy with ``changes`` applied (``dataclasses.replace``; not re-validated)."""
        return dataclasses.replace(self, **changes)


# ------------------------------------------------------------------ checkers: value -> value or _Invalid
class _Invalid(Exception):
    def __init__(self, *messages: str):
        super().__init__(*messages)
        self.messages = messages


_FAILED = object()  # a string whose ${VAR} could not be expanded (already reported)
_KINDS = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"),
          (Mapping, "mapping"), ((list, tuple), "list"), (type(None), "null"))


def _kind(v: Any) -> str:
    return next((name for t, name in _KINDS if isinstance(v, t)), type(v).__name__)


def _need(ok: bool, message: str) -> None:
    if not ok:
        raise _Invalid(message)


def _typed(v: Any, types: tuple, what: str) -> Any:
    """Check the type of ``v`` (a boolean is never a number); never echoes the value."""
    _need(isinstance(v, types) and (bool in types or not isinstance(v, bool)), f"must be {what} (got {_kind(v)})")
    return v


def _hint(value: str, choices: tuple[str, ...]) -> str:
    by_lower = {c.lower(): c for c in choices}
    near = [by_lower[m] for m in difflib.get_close_matches(value.lower(), by_lower, n=3)]
    if near:
        others = f" Also close: {', '.join(map(repr, near[1:]))}" if near[1:] else ""
        return f" (did you mean {near[0]!r}?{others})"
    return f" (valid: {', '.join(choices)})" if len(choices) <= 20 else f" (none of the {len(choices)} is close)"


def _string(v: Any) -> str:
    _need(bool(_typed(v, (str,), "a string").strip()), "must not be empty")
    return v.strip()


def _credential(v: Any) -> str | None:
    if isinstance(v, int) and not isinstance(v, bool):  # e.g. the numeric app id written unquoted
        return str(v)
    return _typed(v, (str,), "a string").strip() or None  # empty counts as not set


def _integer(lo: int, hi: int | None = None) -> Callable[[Any], int]:
    def check(v: Any) -> int:
        _typed(v, (int,), "an integer")
        bound = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
        _need(lo <= v and (hi is None or v <= hi), f"must be {bound} (got {v})")
        return v
    return check


def _positive(v: Any) -> float:
    _need(math.isfinite(_typed(v, (int, float), "a number")) and v > 0, f"must be a positive number (got {v})")
    return float(v)


def _one_of(choices: tuple) -> Callable[[Any], Any]:
    def check(v: Any) -> Any:
        shown = repr(v) if isinstance(v, (str, int, float)) else _kind(v)
        ok = type(v) is type(choices[0]) and v in choices  # no bools, no 7.0 for 7
        _need(ok, f"must be one of {', '.join(map(str, choices))} (got {shown})")
        return v
    return check


def _member(choices: tuple[str, ...], noun: str) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        _need(isinstance(v, str), f"each {noun} must be a string (got {_kind(v)})")
        _need(v in choices, f"unknown {noun} {v!r}{_hint(v, choices)}")
        return v
    return check


def _account_id(v: Any) -> str:
    s = str(_typed(v, (str, int), "a string or integer")).strip()
    _need(re.fullmatch(r"[0-9]+", s) is not None, f"{s!r} is not an ad account id (digits only)")
    return s


def _list(item: Callable[[Any], Any], nonempty: bool = False) -> Callable[[Any], tuple]:
    def check(v: Any) -> tuple:
        out, errors = [], []
        for x in _typed(v, (list, tuple), "a list"):
            if x is _FAILED:  # already reported
                continue
            try:
                x = item(x)
            except _Invalid as e:
                errors.extend(e.messages)
                continue
            if x not in out:  # drop duplicates, keep order
                out.append(x)
        if errors:
            raise _Invalid(*errors)
        _need(out or not nonempty, "must not be empty")
        return tuple(out)
    return check


def _at_most(n: int, check: Callable[[Any], tuple]) -> Callable[[Any], tuple]:
    def limited(v: Any) -> tuple:
        out = check(v)
        _need(len(out) <= n, f"at most {n} (what one call allows; got {len(out)})")
        return out
    return limited


def _date(v: Any) -> dt.date:
    _need(not isinstance(v, dt.datetime), "must be a date YYYY-MM-DD (got a date and time)")
    if isinstance(v, dt.date):
        return v
    s = _typed(v, (str,), "a date YYYY-MM-DD").strip()
    _need(re.fullmatch(r"\d{4}-\d{2}-\d{2}", s) is not None, f"must be a date YYYY-MM-DD (got {s!r})")
    try:
        return dt.date.fromisoformat(s)
    except ValueError:
        raise _Invalid(f"{s} is not a real date") from None


def _http_url(v: Any) -> str:
    parts = urlsplit(s := _string(v))
    _need(parts.scheme in ("http", "https") and bool(parts.netloc), f"must be an http(s) URL (got {s!r})")
    return s.rstrip("/")


def _mapping(v: Any) -> dict:
    _need(all(isinstance(k, str) for k in _typed(v, (Mapping,), "a mapping")), "keys must be strings")
    return dict(v)


# key -> (default, checker), or key -> nested table. Unknown keys are problems.
_SCHEMA: dict[str, Any] = {
    "api_url": (api.DEFAULT_API_URL, _http_url),
    "auth": {**{k: (None, _credential) for k in _CREDENTIALS}, "token_store": (None, _string)},
    "start_date": (None, _date),
    "ad_account_ids": ((), _list(_account_id)),
    "streams": ((), _list(_member((*STREAM_NAMES, ALL_STREAMS), "stream"))),
    "entity_statuses": (api.ENTITY_STATUSES, _list(_member(api.ENTITY_STATUSES, "entity status"), True)),
    "output": {"url": ("data", _string), "storage_options": ({}, _mapping)},
    "state": {"url": ("state/state.json", _string), "storage_options": ({}, _mapping)},
    "analytics": {
        "columns": (DEFAULT_ANALYTICS_COLUMNS, _list(_member(api.ANALYTICS_COLUMNS, "column"), True)),
        "granularity": ("DAY", _one_of(api.GRANULARITIES)),
        "lookback_days": (30, _integer(0, api.ANALYTICS_SAFE_DAYS_BACK)),
        "click_window_days": (30, _one_of(api.ATTRIBUTION_WINDOW_DAYS)),
        "engagement_window_days": (30, _one_of(api.ATTRIBUTION_WINDOW_DAYS)),
        "view_window_days": (1, _one_of(api.ATTRIBUTION_WINDOW_DAYS)),
        "conversion_report_time": ("TIME_OF_AD_ACTION", _one_of(api.CONVERSION_REPORT_TIMES)),
    },
    "pin_analytics": {
        "metric_types": (DEFAULT_PIN_METRIC_TYPES, _list(_member(api.PIN_METRIC_TYPES, "metric type"), True)),
        "split_by_app_type": (False, lambda v: _typed(v, (bool,), "true or false")),
    },
    "targeting_analytics": {
        "targeting_types": (DEFAULT_TARGETING_TYPES, _at_most(api.TARGETING_TYPES_MAX, _list(
            _member(api.TARGETING_TYPES, "targeting type"), True))),
    },
    "user_account_analytics": {
        "metric_types": (DEFAULT_USER_METRIC_TYPES, _list(_member(api.USER_ACCOUNT_METRIC_TYPES, "metric type"), True)),
        "split_field": ("NO_SPLIT", _one_of(api.USER_ACCOUNT_SPLIT_FIELDS)),
    },
    "max_workers": (8, _integer(1, 64)),
    "buffer_mb": (64, _integer(8)),
    "rate_limits": {k: (float(v), _positive) for k, v in api.RATE_LIMITS_PER_MINUTE.items()},
    "http": {
        "timeout_seconds": (60.0, _positive),
        "max_retries": (6, _integer(0)),
        "max_retry_wait_seconds": (300.0, _positive),
        "retry_budget": (500, _integer(0)),
        "rate_limit_window_seconds": (60.0, _positive),
    },
}
Problems = list[tuple[str, str]]  # (dotted key, message)


def _join(prefix: str, key: Any) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def _validate(raw: Any, schema: dict, prefix: str, problems: Problems) -> dict:
    """Check ``raw`` against a schema table; return key -> value (the default where invalid)."""
    if raw is not None and raw is not _FAILED and not isinstance(raw, Mapping):
        problems.append((prefix, f"must be a mapping (got {_kind(raw)})"))
    raw = raw if isinstance(raw, Mapping) else {}
    for key in [k for k in raw if k not in schema]:
        near = difflib.get_close_matches(str(key), list(schema), n=1)
        problems.append((_join(prefix, key), "unknown key" + (f" (did you mean {near[0]!r}?)" if near else "")))
    out: dict[str, Any] = {}
    for name, spec in schema.items():
        key, value = _join(prefix, name), raw.get(name)
        if isinstance(spec, dict):
            out[name] = _validate(value, spec, key, problems)
            continue
        out[name] = spec[0]
        try:
            if value is not None and value is not _FAILED:
                out[name] = spec[1](value)
        except _Invalid as e:
            problems.extend((key, m) for m in e.messages)
    return out


# ------------------------------------------------------------------ passes over the raw mapping
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def _expand(node: Any, key: str, env: Mapping[str, str], problems: Problems) -> Any:
    """Expand ``${VAR}`` / ``${VAR:-default}`` in every string (as in sh, ``:-`` also covers empty)."""
    if isinstance(node, Mapping):
        return {k: _expand(v, _join(key, k), env, problems) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_expand(v, f"{key}[{i}]", env, problems) for i, v in enumerate(node)]
    if not isinstance(node, str):
        return node
    missing: list[str] = []

    def sub(m: re.Match) -> str:
        value, default = env.get(m.group(1)), m.group(2)
        if value or (value is not None and default is None):
            return value
        if default is None:
            missing.append(m.group(1))
        return default or ""

    out = _ENV_REF.sub(sub, node)
    problems.extend((key, f"environment variable {name} is not set") for name in missing)
    return _FAILED if missing else out


def _apply_overrides(data: Mapping, overrides: Mapping[str, Any]) -> tuple[dict, set[str]]:
    """Set dotted keys on a deep copy of ``data`` (None values are skipped); return it and the keys set."""
    data, applied = copy.deepcopy(dict(data)), set()
    for dotted, value in ((k, v) for k, v in overrides.items() if v is not None):
        *parents, last = dotted.split(".")
        node = data
        for p in parents:
            if node.get(p) is None:
                node[p] = {}
            if not isinstance(node[p], Mapping):
                break  # not a mapping: validation reports it
            node[p] = dict(node[p])
            node = node[p]
        else:
            node[last] = copy.deepcopy(value)
            applied.add(dotted)
    return data, applied


def _resolve(url: str, base: str) -> str:
    """Keep URLs with a scheme; make local paths absolute, relative to ``base``."""
    return url if _SCHEME.match(url) else os.path.abspath(os.path.join(base, os.path.expanduser(url)))


def _secret_strings(node: Any, secret: bool = False) -> list[str]:
    if isinstance(node, Mapping):
        return [s for k, v in node.items() for s in _secret_strings(v, secret or _is_secret_key(k))]
    if isinstance(node, (list, tuple)):
        return [s for v in node for s in _secret_strings(v, secret)]
    return [node] if secret and isinstance(node, str) and node else []


# ------------------------------------------------------------------ loaders
class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps dates as strings, so bad ones are reported by key, not crashed on,
    and refuses a key given twice in one mapping (YAML would silently keep the last one)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, str) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (only one of them would be used)", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in rs if tag != "tag:yaml.org,2002:timestamp"]
    for ch, rs in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def start_date_problem(start: dt.date, today: dt.date) -> str | None:
    """What is wrong with a start date (None: nothing): in the future, or older than the
    914 days Pinterest keeps analytics."""
    if start > today:
        return f"{start.isoformat()} is in the future (today is {today.isoformat()}, UTC)"
    earliest = today - dt.timedelta(days=api.REPORT_SAFE_DAYS_BACK)
    if start < earliest:
        return (f"{start.isoformat()} is older than Pinterest keeps analytics (914 days); the earliest allowed day "
                f"is {earliest.isoformat()}")
    return None


def load_config(path: str | os.PathLike = DEFAULT_CONFIG_PATH, *, env: Mapping[str, str] | None = None,
                overrides: Mapping[str, Any] | None = None, today: dt.date | None = None,
                require_credentials: bool = True) -> Config:
    """Read, expand and validate a YAML config file.

    Args:
        path: The YAML file; relative local paths inside it resolve against its folder.
        env: Variables for ``${VAR}`` expansion; defaults to ``os.environ``.
        overrides: Dotted keys (e.g. ``"output.url"``) set before expansion and validation;
            None values are ignored. Relative paths given here resolve against the current
            working directory (they come from the command line), not the config folder.
        today: "Today" for the default start date and the future check; defaults to :func:`pinsync.clock.today` (the UTC date, or ``PINSYNC_TODAY``).
        require_credentials: When False, missing credentials (or unset ``${VAR}`` in them) are fine.

    Returns:
        The validated :class:`Config`.

    Raises:
        ConfigError: The file is missing, unreadable or malformed, or any value is invalid.
    """
    shown = os.fspath(path)
    try:
        with open(shown, encoding="utf-8") as f:
            data = yaml.load(f.read(), Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {shown} (create an annotated one with `pinsync init`)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config file {shown}: {getattr(e, 'strerror', None) or e}") from None
    except yaml.YAMLError as e:  # its str() quotes the line, which may hold a secret: use the mark only
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{shown}: malformed YAML{where}: {getattr(e, 'problem', None) or 'syntax error'}") from None
    source = os.path.abspath(shown)
    return config_from_dict({} if data is None else data, base_dir=os.path.dirname(source), env=env,
                            overrides=overrides, today=today, require_credentials=require_credentials, source=source)


def config_from_dict(data: Mapping, *, base_dir: str | os.PathLike | None = None,
                     env: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None,
                     today: dt.date | None = None, require_credentials: bool = True,
                     source: str | None = None) -> Config:
    """Validate an already-parsed config mapping (see :func:`load_config` for the arguments).

    Args:
        data: The raw mapping, as YAML would give it.
        base_dir: Folder that relative paths in ``data`` resolve against (default: the cwd).
        source: Recorded as :attr:`Config.source` and prefixed to a top-level type error.

    Raises:
        ConfigError: With every problem found.
    """
    if not isinstance(data, Mapping):
        where = f"{source}: " if source else ""
        raise ConfigError(f"{where}the top level must be a mapping of keys to values (got {_kind(data)})")
    today = today or clock.today()
    base = os.path.abspath(base_dir if base_dir is not None else os.getcwd())
    problems: Problems = []
    raw, applied = _apply_overrides(data, overrides or {})
    raw = _expand(raw, "", os.environ if env is None else env, problems)
    credential_keys = {f"auth.{k}" for k in _CREDENTIALS}
    if not require_credentials:  # e.g. `pinsync streams` works without PINTEREST_* set
        problems = [p for p in problems if p[0] not in credential_keys]
    v = _validate(raw, _SCHEMA, "", problems)
    a = v["auth"]
    loaded = [a[k] for k in _SECRET_CREDENTIALS if a[k]]
    loaded += _secret_strings(v["output"]["storage_options"]) + _secret_strings(v["state"]["storage_options"])
    secrets.register(*loaded)

    # the refresh token may come from the token store (`pinsync login` put it there)
    missing = [k for k in _APP_CREDENTIALS if not a[k]]
    if (require_credentials and not a["access_token"] and missing
            and not any(k in credential_keys for k, _ in problems)):  # already explained
        msg = ("no usable credentials: set auth.access_token, or auth.client_id + auth.client_secret "
               "(then run `pinsync login`, or set auth.refresh_token)")
        problems.append(("auth", msg + (f" (missing: {', '.join('auth.' + k for k in missing)})"
                                        if len(missing) < len(_APP_CREDENTIALS) else "")))
    start = v["start_date"] or today - dt.timedelta(days=DEFAULT_START_DAYS_BACK)
    problem = start_date_problem(start, today)
    if problem:
        problems.append(("start_date", problem))
    if problems:
        def scrub(text: str) -> str:  # belt and braces: no checker echoes a secret
            for s in sorted((s for s in loaded if len(s) >= 4), key=len, reverse=True):
                text = text.replace(s, secrets.MASK)
            return text
        raise ConfigError([scrub(f"{k}: {m}" if k else m) for k, m in problems])

    def resolve(key: str, url: str) -> str:  # paths from the command line are relative to the cwd
        return _resolve(url, os.getcwd() if any(key == o or key.startswith(o + ".") for o in applied) else base)

    state_url = resolve("state.url", v["state"]["url"])
    if a["token_store"]:
        token_store = resolve("auth.token_store", a["token_store"])
    elif _SCHEME.match(state_url):  # next to the state file, e.g. s3://bucket/state/tokens.json
        token_store = state_url.rsplit("/", 1)[0] + "/" + TOKEN_STORE_NAME
    else:
        token_store = os.path.join(os.path.dirname(state_url), TOKEN_STORE_NAME)
    named = tuple(n for n in STREAM_NAMES if n in v["streams"])
    chosen = set(STREAM_NAMES if ALL_STREAMS in v["streams"] else (named or DEFAULT_STREAMS))
    return Config(
        api_url=v["api_url"],
        auth=AuthConfig(**{k: a[k] for k in _CREDENTIALS}, token_store=token_store),
        start_date=start,
        ad_account_ids=v["ad_account_ids"],
        streams=tuple(s for s in STREAM_NAMES if s in chosen),
        named_streams=named,
        entity_statuses=v["entity_statuses"],
        output=Location(resolve("output.url", v["output"]["url"]), v["output"]["storage_options"]),
        state=Location(state_url, v["state"]["storage_options"]),
        analytics=AnalyticsConfig(**v["analytics"]),
        pin_analytics=PinAnalyticsConfig(**v["pin_analytics"]),
        targeting_analytics=TargetingAnalyticsConfig(**v["targeting_analytics"]),
        user_account_analytics=UserAccountAnalyticsConfig(**v["user_account_analytics"]),
        max_workers=v["max_workers"],
        buffer_mb=v["buffer_mb"],
        rate_limits=dict(v["rate_limits"]),
        http=HttpConfig(**v["http"]),
        source=source,
    )


EXAMPLE_CONFIG = "pinsync.yaml"


def init_config(path: str | os.PathLike = DEFAULT_CONFIG_PATH) -> str:
    """Write the annotated example configuration (every key with its default) to ``path``.

    Refuses to overwrite: raises :class:`ConfigError` if ``path`` exists. Returns the path
    written. A folder is given the file name ``pinsync.yaml``.
    """
    from importlib.resources import files

    target = os.fspath(path)
    if os.path.isdir(target):
        target = os.path.join(target, EXAMPLE_CONFIG)
    text = files("pinsync").joinpath(EXAMPLE_CONFIG).read_text(encoding="utf-8")
    try:
        with open(target, "x", encoding="utf-8") as f:
            f.write(text)
    except FileExistsError:
        raise ConfigError(f"{target} already exists; not overwriting it (use --path to write elsewhere)") from None
    except OSError as e:
        raise ConfigError(f"cannot write {target}: {e.strerror or e}") from None
    return target
