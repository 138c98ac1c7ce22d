"""The fake's OAuth authorization-code flow: the consent page and the code exchange.

``GET /oauth/?client_id=…&redirect_uri=…&response_type=code&scope=…&state=…`` stands for
Pinterest's consent page (``https://www.pinterest.com/oauth/``): the "user" approves at
once and is redirected (302) to ``redirect_uri?code=…&state=…`` - or, with
``Consent.deny``, to ``redirect_uri?error=access_denied&state=…``. A wrong app id answers
400. ``POST /v5/oauth/token`` with ``grant_type=authorization_code`` exchanges the code
(once, with the same ``redirect_uri``) for an access token and a refresh token whose
``scope`` is what was asked for, less ``Consent.withheld``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from urllib.parse import urlencode

from pinsync.fake.errors import FakeApiError

# the scopes Pinterest knows (the spec's securitySchemes)
KNOWN_SCOPES = frozenset({
    "ads:read", "ads:write", "billing:read", "billing:write", "biz_access:read", "biz_access:write", "boards:read",
    "boards:read_secret", "boards:write", "boards:write_secret", "catalogs:read", "catalogs:write", "msot:write",
    "pins:read", "pins:read_secret", "pins:write", "pins:write_secret", "user_accounts:read", "user_accounts:write"})


@dataclass
class Consent:
    """What the fake user does on the consent page, and the codes it handed out."""

    deny: bool = False
    withheld: set[str] = field(default_factory=set)      # scopes the user (or app review) does not grant
    codes: dict[str, tuple[str, str]] = field(default_factory=dict)   # code -> (redirect_uri, scope)

    def page(self, query: dict, client_id: str) -> tuple[int, dict[str, str], bytes]:
        """The consent page's answer: a redirect back to the app, or 400."""
        def one(name: str) -> str:
            return query.get(name, [""])[-1]
        if one("client_id") != client_id:
            return 400, {"Content-Type": "text/html"}, b"<html><body>Invalid client_id.</body></html>"
        redirect, state = one("redirect_uri"), one("state")
        if one("response_type") != "code" or not redirect.startswith(("http://", "https://")):
            return 400, {"Content-Type": "text/html"}, b"<html><body>Invalid request.</body></html>"
        asked = [s for s in one("scope").split(",") if s]
        if self.deny:
            params = {"error": "access_denied", "state": state}
        else:
            code = secrets.token_urlsafe(16)
            granted = [s for s in asked if s in KNOWN_SCOPES and s not in self.withheld]
            self.codes[code] = (redirect, ",".join(granted))
            params = {"code": code, "state": state}
        sep = "&" if "?" in redirect else "?"
        return 302, {"Location": f"{redirect}{sep}{urlencode(params)}", "Content-Length": "0"}, b""

    def exchange(self, form: dict) -> str:
        """The scope granted with ``form``'s code (used up), else Pinterest's 400."""
        code = form.get("code", [""])[-1]
        redirect = form.get("redirect_uri", [""])[-1]
        if code not in self.codes:
            raise FakeApiError(400, 283, "The authorization grant is invalid")
        expected, scope = self.codes.pop(code)
        if redirect != expected:
            raise FakeApiError(400, 283, "The authorization grant is invalid (redirect_uri does not match)")
        return scope
