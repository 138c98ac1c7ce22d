"""pinsync: Pinterest ads and organic data to hive-partitioned Parquet, incrementally.

Library first; the ``pinsync`` command is a thin layer over these functions::

    import pinsync
    config = pinsync.load_config("pinsync.yaml")
    result = pinsync.run(config)                       # what `pinsync run` does
    df = pinsync.extract("campaigns", config)          # fetch without writing
    lf = pinsync.scan("ad_analytics", config=config)   # read a table back, typed
"""

from __future__ import annotations

from pinsync import memory as _memory

_memory.tune_before_polars()   # before anything imports Polars

from pinsync.config import Config, config_from_dict, load_config
from pinsync.errors import (ApiError, AuthError, ConfigError, LockError, NetworkError, PayloadError,
                            PinsyncError, RateLimitError, ScopeError, SinkError, StateError, SyncFailed)
from pinsync.plan import Plan, plan
from pinsync.read import scan
from pinsync.streams import STREAMS
from pinsync.sync import Event, SyncResult, run
from pinsync.extract_api import extract

__all__ = [
    "Config", "load_config", "config_from_dict", "run", "plan", "Plan", "extract", "scan", "STREAMS", "SyncResult", "Event",
    "PinsyncError", "ConfigError", "StateError", "LockError", "AuthError", "ApiError", "RateLimitError",
    "ScopeError", "NetworkError", "PayloadError", "SinkError", "SyncFailed",
]
__version__ = "0.1.0"
