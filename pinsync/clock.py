"""The one clock that decides "today": the UTC date, or ``PINSYNC_TODAY`` when set.

Everything that asks which day it is (the config's default start date, the windows a run
fetches, the demo's fake account) asks :func:`today`, so a whole run, its CLI and the
package's fake can be moved to another day together: ``pinsync --today 2026-01-31 run``
or ``PINSYNC_TODAY=2026-01-31``. Times of events (run ids, locks, token expiry) stay on
the real clock.
"""

from __future__ import annotations

import datetime as dt
import os

from pinsync.errors import ConfigError

ENV = "PINSYNC_TODAY"


def parse_today(value: str, source: str = ENV) -> dt.date:
    """``value`` as a date (YYYY-MM-DD), or a :class:`ConfigError` naming ``source``."""
    try:
        if len(value.strip()) != 10:
            raise ValueError
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"{source}: {value!r} is not a date (use YYYY-MM-DD)") from None


def today() -> dt.date:
    """Today's UTC date, or the date in ``PINSYNC_TODAY`` (never the local date)."""
    value = os.environ.get(ENV)
    if value:
        return parse_today(value)
    return dt.datetime.now(dt.timezone.utc).date()
