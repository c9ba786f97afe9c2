"""``ledger witness serve``: an independent C2SP tlog-witness (its own key, its own state)."""
