"""Pinterest-shaped errors raised inside the fake API.

Every error the fake answers with has Pinterest's body ``{"code": int, "message": str}``
(``#/components/schemas/Error``). :class:`FakeApiError` carries the HTTP status and that
body; the router turns it into a response, the expected-data helpers let it propagate.
"""

from __future__ import annotations

from pinsync import api
from pinsync.fake.declared import BAD_REQUEST

RATE_LIMIT_MESSAGE = ("This request exceeded a rate limit. This can happen if the client exceeds one of the "
                      "published rate limits within a short time window.")
AUTH_FAILED = "Authentication failed."
FORBIDDEN = "You are not permitted to access that resource."
NOT_AUTHORIZED_PIN = "Not authorized to access board or Pin."

# Default bodies for a status (used by the "status" fault and the router).
DEFAULT_BODIES: dict[int, dict] = {
    400: {"code": 1, "message": "Invalid parameters."},
    401: {"code": 2, "message": AUTH_FAILED},
    403: {"code": 29, "message": FORBIDDEN},
    404: {"code": 404, "message": "Not found."},
    405: {"code": 405, "message": "Method not allowed."},
    429: {"code": api.RATE_LIMIT_CODE, "message": RATE_LIMIT_MESSAGE},
    500: {"code": 500, "message": "Internal server error."},
    502: {"code": 502, "message": "Bad gateway."},
    503: {"code": 503, "message": "Service unavailable."},
    504: {"code": 504, "message": "Gateway timeout."},
}


def default_body(status: int) -> dict:
    """Pinterest's error body for ``status`` (``{"code": status, ...}`` when none is known)."""
    body = DEFAULT_BODIES.get(status)
    return dict(body) if body else {"code": status, "message": f"HTTP {status}."}


class FakeApiError(ValueError):
    """An API error: HTTP ``status`` and Pinterest's ``{"code", "message"}`` body."""

    def __init__(self, status: int, code: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def body(self) -> dict:
        return {"code": self.code, "message": self.message}


INVALID_PARAMETERS = "Invalid parameters."


def bad_params(detail: str) -> FakeApiError:
    """400 ``{"code": 1, "message": "Invalid parameters. <detail>"}``: the 400 of a route
    whose operation gives no example of its own (the router answers the others'
    with :func:`bad_request`)."""
    return FakeApiError(400, 1, f"{INVALID_PARAMETERS} {detail}".strip())


def bad_request(route: str, detail: str) -> FakeApiError:
    """The route's 400: the code and message of its operation's example
    (:data:`pinsync.fake.declared.BAD_REQUEST`) followed by ``detail``, else :func:`bad_params`."""
    if route not in BAD_REQUEST:
        return bad_params(detail)
    code, message = BAD_REQUEST[route]
    return FakeApiError(400, code, f"{message} {detail}".strip())


def as_route_error(route: str, e: FakeApiError) -> FakeApiError:
    """``e`` as ``route`` answers it: a :func:`bad_params` 400 (raised by a helper several
    routes share) on a route with a 400 example of its own becomes that route's 400."""
    generic = e.status == 400 and e.code == 1 and e.message.startswith(INVALID_PARAMETERS)
    if not generic or route not in BAD_REQUEST:
        return e
    out = bad_request(route, e.message[len(INVALID_PARAMETERS):].strip())
    out.headers.update(e.headers)
    return out


def unauthorized() -> FakeApiError:
    return FakeApiError(401, 2, AUTH_FAILED)


def invalid_client() -> FakeApiError:
    """``POST /oauth/token`` with a wrong app id or secret: 401, OAuth's ``invalid_client``."""
    return FakeApiError(401, 2, "Client authentication failed (invalid_client).")


def forbidden() -> FakeApiError:
    return FakeApiError(403, 29, FORBIDDEN)


def account_not_found() -> FakeApiError:
    return FakeApiError(404, 2, "Ad account not found.")


def pin_not_found(code: int = 50) -> FakeApiError:
    """404 "Pin not found.": code 50 (multi_pins/analytics), 404 (pins/analytics)."""
    return FakeApiError(404, code, "Pin not found.")


def insufficient_scope(status: int = 401) -> FakeApiError:
    """401 code 3: the spec's answer for a token without a scope the request needs."""
    return FakeApiError(status, api.SCOPE_ERROR_CODE, "Your token does not have sufficient permissions to perform this "
                        "operation. Please ensure your token is authorized with the correct set of scopes.")


def not_authorized_pin() -> FakeApiError:
    """multi_pins/analytics: 401 code 7 (the spec's answer for pins or an app it refuses)."""
    return FakeApiError(401, api.NOT_AUTHORIZED_CODE, NOT_AUTHORIZED_PIN)
