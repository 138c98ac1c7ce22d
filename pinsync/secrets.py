"""Keep secrets out of every message, log line and file pinsync writes.

Secrets are registered as soon as they are known (config load, token refresh); every
log record passes through :class:`RedactingFilter` and every error message through
:func:`redact`.
"""

from __future__ import annotations

import logging
import re
import threading

_lock = threading.Lock()
_secrets: set[str] = set()
MASK = "***"
# Bearer / Basic headers and token-looking query or form values, even if never registered.
_PATTERNS = [
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?(?:bearer|basic)\s+)[^\s'\",}]+"),
    # form fields (refresh_token=...) and JSON members ("access_token": "...")
    re.compile(r"(?i)((?:access_token|refresh_token|client_secret)(?:=|['\"]\s*:\s*['\"]))[^\s'\"&,}]+"),
    # the signature of a pre-signed link (a report file on S3), e.g. in urllib3's debug lines
    re.compile(r"(?i)((?:X-Amz-(?:Signature|Credential|Security-Token)|Signature|AWSAccessKeyId)=)[^\s'\"&#]+"),
]


def register(*values: str | None) -> None:
    """Remember values that must never be shown (tokens, client secret)."""
    with _lock:
        for v in values:
            if v and len(v) >= 4:
                _secrets.add(v)


def redact(text: str) -> str:
    """Return ``text`` with every registered secret and token-looking value masked."""
    if not text:
        return text
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for s in known:
        if s in text:
            text = text.replace(s, MASK)
    for p in _PATTERNS:
        text = p.sub(lambda m: m.group(1) + MASK, text)
    return text


def redact_url(url: str) -> str:
    """``url`` without its query string: a pre-signed link's signature is a credential."""
    base, sep, _ = url.partition("?")
    return redact(base) + ("?..." if sep else "")


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in the final message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        clean = redact(msg)
        if clean != msg or record.args:
            record.msg, record.args = clean, None
        return True


def install_log_filter(logger: logging.Logger | None = None) -> None:
    """Attach the redacting filter to ``logger``'s handlers (root by default)."""
    lg = logger or logging.getLogger()
    f = RedactingFilter()
    lg.addFilter(f)
    for h in lg.handlers:
        h.addFilter(f)
