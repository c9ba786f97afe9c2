"""Adapters: storage, keys, delivery. ``adapters.opening.open_ledger`` opens a ledger on a path or URL."""
