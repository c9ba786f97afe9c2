"""Prometheus metrics of the batch feeds (seed 001 section 7.3: "Monitor SFTP file processing").

* ``ledger_feed_files_total{partner,feed,result}``: files processed (``processed``) or rejected whole
  (``rejected``), outbound files published (``published``);
* ``ledger_feed_rows_total{partner,result}``: eligibility rows ``accepted`` / ``rejected``;
* ``ledger_feed_processing_seconds{feed}``: time to process or produce one file;
* ``ledger_feed_late{partner,feed}``: 1 while an expected partner file is past its deadline, and
  ``ledger_feed_late_alerts_total{partner,feed}`` counting the alerts raised;
* ``ledger_feed_transfer_failures_total{partner,direction,reason}``: SFTP or GCS pulls/pushes that failed;
* claims files (docs/batch.md): ``ledger_feed_files_total`` with ``feed`` = ``claims``, ``verify`` or
  ``reconcile``; ``ledger_claims_file_lines_total{partner,kind,outcome}``;
  ``ledger_claims_file_turnaround_seconds{kind}`` from a file's arrival to its results;
  ``ledger_claims_files_overdue{partner}``: files past their deadline (default 4 h) and not finished, and
  ``ledger_claims_deadline_alerts_total{partner}`` counting the deadline alerts raised (once per file).

Partner ids are labels (a deployment has tens of partners, not thousands); no personal datum is a label.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0)
_TURNAROUND = (1.0, 10.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 10800.0, 14400.0, 21600.0, 43200.0)

__all__ = ["FeedMetrics"]


class FeedMetrics:
    """The feed metrics in ``registry`` (the worker's own, or the HTTP app's)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.files = Counter("ledger_feed_files", "Feed files by result", ["partner", "feed", "result"], registry=r)
        self.rows = Counter("ledger_feed_rows", "Eligibility rows by result", ["partner", "result"], registry=r)
        self.duration = Histogram(
            "ledger_feed_processing_seconds",
            "Time to process or produce one file",
            ["feed"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.late = Gauge(
            "ledger_feed_late", "1 while an expected partner file is late", ["partner", "feed"], registry=r
        )
        self.late_alerts = Counter("ledger_feed_late_alerts", "Lateness alerts raised", ["partner", "feed"], registry=r)
        self.transfer_failures = Counter(
            "ledger_feed_transfer_failures",
            "SFTP or GCS transfers to or from partners that failed",
            ["partner", "direction", "reason"],
            registry=r,
        )
        self.claims_lines = Counter(
            "ledger_claims_file_lines", "Claims file lines by outcome", ["partner", "kind", "outcome"], registry=r
        )
        self.claims_turnaround = Histogram(
            "ledger_claims_file_turnaround_seconds",
            "From a claims file's arrival to its results",
            ["kind"],
            buckets=_TURNAROUND,
            registry=r,
        )
        self.claims_overdue = Gauge(
            "ledger_claims_files_overdue", "Claims files past their deadline, not finished", ["partner"], registry=r
        )
        self.claims_deadline_alerts = Counter(
            "ledger_claims_deadline_alerts", "Claims file deadline alerts raised", ["partner"], registry=r
        )
