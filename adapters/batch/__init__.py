"""Claims batch files on disk: processing an inbound file and writing its results file (docs/batch.md)."""
