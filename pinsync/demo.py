"""``pinsync demo``: a full sync of a fake Pinterest account, with no credentials."""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path

from pinsync import clock
from pinsync.config import config_from_dict
from pinsync.fake import Dataset, FakePinterest, FakeServer

DEMO_TOKEN = "pinsync-demo-token"


def run_demo(output: str | Path, *, accounts: int = 2, runner=None, today: dt.date | None = None,
             streams: list[str] | None = None):
    """Serve a fake account on 127.0.0.1 and sync ``streams`` (default: the default
    selection; ``["all"]``: every stream) into ``output``.

    The state lives in ``{output}/_pinsync/state.json`` (outside the table folders).
    ``runner(run, config)`` lets the CLI wrap the run with progress bars.
    """
    from pinsync.sync import run

    today = today or clock.today()
    ds = Dataset(seed=42, accounts=accounts, campaigns_per_account=6, ad_groups_per_campaign=3,
                 ads_per_ad_group=4, pins=150, today=today)
    fake = FakePinterest(ds, access_tokens=(DEMO_TOKEN,))
    out = Path(output)
    with FakeServer(fake) as server:
        config = config_from_dict({
            "api_url": server.url,
            "auth": {"access_token": DEMO_TOKEN},
            "start_date": (today - dt.timedelta(days=60)).isoformat(),
            "output": {"url": str(out)},
            "state": {"url": str(out / "_pinsync" / "state.json")},
            **({"streams": list(streams)} if streams else {}),
        }, base_dir=Path.cwd(), env={}, today=today)
        if runner is not None:
            return runner(functools.partial(run, today=today), config)
        return run(config, today=today, raise_on_failure=False)
