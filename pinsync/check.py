"""``pinsync check``: will my run work? Every precondition of a run, without running it.

In order: the output, state and token-store locations can be written (a probe, removed);
the credentials work (one refresh, or one cheap authenticated call); the token's scopes
cover the selected streams; the selected ad accounts are visible; and the rate-limit
headroom the API reported. No analytics request is made and nothing is written but the
probes. Each problem carries the exit code of its class (see :mod:`pinsync.errors`).
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass

from pinsync import errors
from pinsync.auth import TokenStore, parse_scopes
from pinsync.connect import client_for
from pinsync.errors import ApiError, AuthError, PinsyncError, SinkError, StateError
from pinsync.extractor import Extractor
from pinsync.state import StateStore
from pinsync.storage import Location, explain
from pinsync.streams import OPTIONAL_SCOPES, STREAMS, scopes_for, select

SCOPE_ERROR_CODE = 3    # Pinterest's code for a token without the scope an endpoint needs


@dataclass
class Check:
    """One precondition: ``ok``, a line for people, and the exit code when it failed."""

    name: str
    ok: bool
    detail: str
    exit_code: int = errors.EXIT_OK

    def as_dict(self) -> dict:
        return asdict(self)


def exit_code(checks: list[Check]) -> int:
    """0 when every check passed, else the exit code of the first problem."""
    return next((c.exit_code for c in checks if not c.ok), errors.EXIT_OK)


def _probe(location: Location) -> None:
    rel = f".pinsync-check-{uuid.uuid4().hex}"
    location.write(rel, b"probe")
    location.delete(rel)


def check(config) -> list[Check]:
    """Check everything a run of ``config`` needs; see the module docs. Never raises for a
    failed check: each becomes a :class:`Check` with ``ok=False``."""
    out: list[Check] = [Check("config", True, f"{config.source or 'configuration'} is valid")]
    specs = select(config.streams)

    def location(name: str, url: str, storage_options: dict) -> None:
        try:
            _probe(Location(url, storage_options))
            out.append(Check(name, True, f"{url} is writable"))
        except SinkError as e:
            out.append(Check(name, False, f"{url} cannot be written: {e}", errors.EXIT_USAGE))
        except Exception as e:   # OS errors, botocore errors (no credentials, no bucket, 5xx)
            why, retryable = explain(e, url)
            out.append(Check(name, False, f"{url} cannot be written: {why}",
                             errors.EXIT_SYNC_FAILED if retryable else errors.EXIT_USAGE))

    location("output", config.output.url, config.output.storage_options)
    state_folder = config.state.url.rsplit("/", 1)[0] if "/" in config.state.url else "."
    location("state", state_folder, config.state.storage_options)
    try:
        StateStore(config.state.url, config.state.storage_options).load()
    except StateError as e:
        out.append(Check("state file", False, str(e), errors.EXIT_USAGE))
    store = None if config.auth.access_token else TokenStore(config.auth.token_store, config.state.storage_options)
    if store is not None:
        try:
            store.read()
            store.rescued()
            store.check_writable()
            out.append(Check("token store", True, f"{store.url} is readable and writable"))
        except (StateError, AuthError) as e:
            out.append(Check("token store", False, str(e), e.exit_code))
    if any(not c.ok for c in out):
        return out       # credentials are not tried against locations that would lose a rotated token

    client = client_for(config, owner=f"check-{uuid.uuid4().hex[:6]}")
    try:
        ads = any(s.category.startswith("ads") for s in specs)
        try:
            if ads:
                accounts = Extractor(client).entities(STREAMS["ad_accounts"])
            else:       # one cheap call the selected streams' scopes allow
                needed = set(scopes_for(specs))
                probe = next(STREAMS[n] for n in ("pins", "boards", "user_account", "catalogs")
                             if set(STREAMS[n].scopes) <= needed)
                client.get_json(probe.path, {"page_size": 1} if probe.shape == "page" else None,
                                category=probe.category, tag=probe.name)
            kind = "a static access token" if config.auth.access_token else "the refresh token (refreshed)"
            out.append(Check("credentials", True, f"Pinterest accepted {kind}"))
        except AuthError as e:
            out.append(Check("credentials", False, str(e), e.exit_code))
            return out
        except ApiError as e:
            code = errors.EXIT_CREDENTIALS if e.code == SCOPE_ERROR_CODE else errors.EXIT_SYNC_FAILED
            out.append(Check("credentials", False, str(e), code))
            return out
        except PinsyncError as e:
            out.append(Check("credentials", False, str(e), e.exit_code))
            return out
        out.append(_scopes(config, store, specs))
        if ads:
            visible = set(accounts["id"].to_list())
            wanted = tuple(config.ad_account_ids)
            unseen = [a for a in wanted if a not in visible]
            if unseen:
                out.append(Check("ad accounts", False, f"not visible to the token: {', '.join(unseen)} (of "
                                 f"{len(visible)} visible); check ad_account_ids and the token's access",
                                 errors.EXIT_USAGE))
            else:
                chosen = f"{len(wanted)} selected" if wanted else "all selected"
                out.append(Check("ad accounts", True, f"{len(visible)} visible, {chosen}"))
        headroom = ", ".join(f"{cat} {h['remaining']}/{h['limit']} left" for cat, h in sorted(client.headroom.items()))
        out.append(Check("rate limits", True, headroom or "the API reported no rate-limit headers"))
    finally:
        client.close()
    return out


def _scopes(config, store: TokenStore | None, specs) -> Check:
    needed = scopes_for(specs)
    if store is None:
        return Check("scopes", True, f"needed: {', '.join(needed)} (a static access token does not say which it "
                                     "has; a missing one fails its stream)")
    entry = store.read()["clients"].get(config.auth.client_id) or {}
    granted = set(parse_scopes(entry.get("scope")))
    if not granted:
        return Check("scopes", True, f"needed: {', '.join(needed)} (Pinterest did not say which were granted)")
    missing = [s for s in needed if s not in granted]
    if missing:
        return Check("scopes", False, f"missing {', '.join(missing)} (needed by the selected streams): add "
                                      "them to the app and run `pinsync login` again", errors.EXIT_CREDENTIALS)
    optional = [s for s in OPTIONAL_SCOPES if s not in granted]
    note = (f"; without {', '.join(optional)} pins on secret boards are skipped" if optional else "")
    return Check("scopes", True, f"granted {', '.join(sorted(granted))}{note}")
