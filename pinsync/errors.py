"""pinsync's exceptions, grouped by what the user has to do about them.

::

    PinsyncError                 root; every error pinsync raises on purpose
    ├── ConfigError              bad configuration or usage          -> exit 2
    ├── StateError               unreadable / corrupt state or token store -> exit 2
    │                            (exit 1 when the store only failed for now: S3 answered 5xx)
    ├── LockError                another run holds the state lock     -> exit 4
    ├── AuthError                credentials rejected; re-authorise   -> exit 3
    ├── ApiError                 the API answered with an error       -> exit 1
    │   ├── RateLimitError       429s outlasted the retry budget
    │   └── ScopeError           the token lacks the endpoint's scope  -> exit 3
    ├── NetworkError             the API's host cannot be reached (DNS, refused connection)
    ├── PayloadError             the API answered something we cannot type safely
    ├── SinkError                output cannot be written or read
    ├── Cancelled                the run was stopped (Ctrl-C, or a fatal error elsewhere)
    └── SyncFailed               the run finished but some parts failed (lists them)

Messages never contain secrets: anything built from a request is passed through
:func:`pinsync.secrets.redact` before it reaches an exception.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_SYNC_FAILED = 1      # the sync failed; a retry may help
EXIT_USAGE = 2            # bad usage, config, state or token store: fix it first
EXIT_CREDENTIALS = 3      # credentials need re-authorisation (or a scope added)
EXIT_LOCKED = 4           # another run holds the lock: retry later
EXIT_INTERRUPTED = 130    # Ctrl-C (SIGINT)
EXIT_TERMINATED = 143     # SIGTERM (Kubernetes, Airflow, systemd stopping the run)


class PinsyncError(Exception):
    """Root of every error pinsync raises on purpose."""

    exit_code = EXIT_SYNC_FAILED


class ConfigError(PinsyncError):
    """The configuration (or command line) is invalid. Carries every problem at once."""

    exit_code = EXIT_USAGE

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return f"invalid configuration: {self.problems[0]}"
        return "invalid configuration:\n" + "\n".join(f"  - {p}" for p in self.problems)


class StateError(PinsyncError):
    """The state file or token store cannot be read, parsed or written.

    ``retryable``: the location is right but failed for now (S3 answered 5xx after its
    retries): exit 1, a later run may succeed.
    """

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, retryable: bool = False):
        super().__init__(message)
        if retryable:
            self.exit_code = EXIT_SYNC_FAILED


class LockError(PinsyncError):
    """Another run holds the lock on this state."""

    exit_code = EXIT_LOCKED


class AuthError(PinsyncError):
    """Pinterest rejected the credentials; the user has to re-authorise.

    ``code`` is Pinterest's error code when the API said one (3: the token lacks a scope).
    """

    exit_code = EXIT_CREDENTIALS

    def __init__(self, message: str, *, code: int | None = None, retryable: bool = False):
        self.code = code
        super().__init__(message)
        if retryable:   # e.g. the token endpoint could not be reached: not the credentials' fault
            self.exit_code = EXIT_SYNC_FAILED


class ApiError(PinsyncError):
    """The Pinterest API answered with an error (after retries, where retrying made sense)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        endpoint: str | None = None,
        request_id: str | None = None,
    ):
        self.status = status
        self.code = code
        self.endpoint = endpoint
        self.request_id = request_id
        self.api_message = message
        parts = []
        if status is not None:
            parts.append(f"HTTP {status}")
        if code is not None:
            parts.append(f"code {code}")
        head = f"{endpoint}: " if endpoint else ""
        tail = f" ({', '.join(parts)})" if parts else ""
        rid = f" [x-pinterest-rid {request_id}]" if request_id else ""
        super().__init__(f"{head}{message}{tail}{rid}")


class RateLimitError(ApiError):
    """Rate limiting (429) outlasted the retry budget; re-run later."""


class ScopeError(ApiError):
    """The token lacks a scope the endpoint needs (Pinterest's code 3): add it to the app and
    authorise again. Only the streams that need it fail."""

    exit_code = EXIT_CREDENTIALS


class NetworkError(PinsyncError):
    """The API's host cannot be reached: its name does not resolve, or it refuses every
    connection. Every request would fail alike, so the run stops at once."""


class PayloadError(PinsyncError):
    """The API returned data that cannot be typed without losing information."""


class SinkError(PinsyncError):
    """The output location cannot be written or read."""


class Cancelled(PinsyncError):
    """The run was stopped; work in flight ends at its next request or commit."""


class SyncFailed(PinsyncError):
    """Some parts of a run failed; the others completed and were committed."""

    def __init__(self, failures: list[str]):
        self.failures = failures
        super().__init__("sync failed:\n" + "\n".join(f"  - {f}" for f in failures))
