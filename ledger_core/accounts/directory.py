"""Which partners have single sign-on configured, read from the log (``sso.configuration_opened``, one entry
per partner), incrementally: the certificate watch and ``ledger sso status`` ask every pass, and only the
entries appended since the previous pass are read.
"""

from __future__ import annotations

from ledger_core.engine.ports import LogReader

OPENED = "sso.configuration_opened"
_SCAN = 5000


class SsoPartners:
    """The partners with an SSO configuration, in the order they opened it."""

    def __init__(self, reader: LogReader) -> None:
        self.reader = reader
        self._next = 0
        self._partners: dict[str, None] = {}

    def partners(self) -> list[str]:
        """Every partner that ever opened an SSO configuration (a partner with no provider left included)."""
        while rows := self.reader.read_rows(self._next, _SCAN):
            for row in rows:
                if row.type == OPENED and row.partner_id is not None:
                    self._partners.setdefault(row.partner_id, None)
            self._next = rows[-1].position + 1
        return list(self._partners)
