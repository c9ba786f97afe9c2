"""A minimal browser for the SSO tests: keeps the session cookies the server sets and sends them back.

The session cookies are ``Secure`` (``__Host-`` prefix), which a standard cookie jar never returns over the
plain-http loopback the test servers use; this helper parses ``Set-Cookie`` itself, records each cookie's
attributes so tests can check them, and echoes the CSRF cookie in ``X-CSRF-Token`` when asked to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

import httpx

CSRF_COOKIE = "__Host-ledger_csrf"


@dataclass
class SetCookie:
    value: str
    attributes: dict[str, str]


@dataclass
class Browser:
    base_url: str
    cookies: dict[str, str] = field(default_factory=dict)
    last_set: dict[str, SetCookie] = field(default_factory=dict)
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.base_url, timeout=30, follow_redirects=False)

    def request(self, method: str, url: str, *, csrf: bool = False, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        if csrf and CSRF_COOKIE in self.cookies:
            headers["X-CSRF-Token"] = self.cookies[CSRF_COOKIE]
        response = self.http.request(method, url, headers=headers, **kwargs)
        self._remember(response)
        return response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def _remember(self, response: httpx.Response) -> None:
        for header in response.headers.get_list("set-cookie"):
            parsed: SimpleCookie = SimpleCookie()
            parsed.load(header)
            for name, morsel in parsed.items():
                attributes = {key: str(value) for key, value in morsel.items() if value}
                self.last_set[name] = SetCookie(morsel.value, attributes)
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def close(self) -> None:
        self.http.close()
