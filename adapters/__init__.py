"""Adapters: storage, keys, delivery, one folder per backend (README.md beside this file has the map).

``adapters.opening.open_ledger`` opens a ledger on a path or URL; ``adapters.storage`` chooses a backend.
"""
