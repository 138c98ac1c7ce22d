"""A deterministic, realistic fake of the Pinterest REST API v5, for tests, demos and benchmarks.

    from pinsync.fake import Dataset, FakePinterest, FakeServer

    ds = Dataset(seed=7, accounts=3, pins=120, today=datetime.date(2026, 11, 29))
    fake = FakePinterest(ds, access_tokens=("demo-token",))
    with FakeServer(fake) as srv:            # 127.0.0.1, a free port, a daemon thread
        srv.url                              # "http://127.0.0.1:<port>/v5"

Modules: :mod:`~pinsync.fake.data` (the generated entities), :mod:`~pinsync.fake.analytics`
(metric values and analytics parameter validation), :mod:`~pinsync.fake.router` (the API
as a pure request -> response function, with faults, rate limits, tokens),
:mod:`~pinsync.fake.reports` (asynchronous reports and the download host their links point
to), :mod:`~pinsync.fake.objects` (keywords, audiences, customer lists, conversion tags, product
group promotions, the user account, boards, catalogs; route scopes),
:mod:`~pinsync.fake.insights` (the ad account's, targeting, product group and user account
analytics), :mod:`~pinsync.fake.faults` and :mod:`~pinsync.fake.server` (the HTTP front). Each module's
docstring says what is faithful to the real API and what is a choice of the fake.
"""

from pinsync.fake.data import Dataset
from pinsync.fake.errors import FakeApiError
from pinsync.fake.router import ROUTE_CATEGORY, ROUTE_NAMES, FakePinterest, Reply
from pinsync.fake.server import FakeServer

__all__ = ["Dataset", "FakePinterest", "FakeServer", "FakeApiError", "Reply", "ROUTE_CATEGORY", "ROUTE_NAMES"]
