"""OpenPGP for the batch feeds (pysequoia, a binding of Sequoia-PGP; RFC 9580 / RFC 4880)."""
