"""The ``Prefer`` request header (RFC 7240): which preferences a request states.

RFC 7240 §2: ``Prefer = 1#preference``, ``preference = token [ BWS "=" BWS word ] *( OWS ";" [ OWS
parameter ] )``; preference names are case-insensitive and the header may be repeated. Only the names
matter here (``respond-async``, §4.1); a server that does not honour one ignores it (§2).
"""

from __future__ import annotations

from collections.abc import Iterable

RESPOND_ASYNC = "respond-async"
PREFERENCE_APPLIED = "Preference-Applied"
"""The response header naming the preferences that were honoured (RFC 7240 §3)."""


def preference_names(values: Iterable[str]) -> frozenset[str]:
    """The lower-cased names of the preferences in the ``Prefer`` header values (parameters and values
    ignored; a quoted comma in a value is rare enough to split on, and can only add a spurious name)."""
    names = set()
    for value in values:
        for preference in value.split(","):
            name = preference.split(";", 1)[0].split("=", 1)[0].strip().lower()
            if name:
                names.add(name)
    return frozenset(names)


def prefers_async(values: Iterable[str]) -> bool:
    """Whether the client prefers an asynchronous answer (``Prefer: respond-async``, RFC 7240 §4.1)."""
    return RESPOND_ASYNC in preference_names(values)
