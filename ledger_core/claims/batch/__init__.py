"""Claims batches (seed 000 §3.2, Pattern B): historical imports, bulk verification, reconciliation by file."""
