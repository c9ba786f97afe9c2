"""First view of the member portal (issue 17 item 6: "first view of the portal < 2 s", seed 001 §5).

A real server subprocess (SQLite, the test harness's ``live_server``) and the OS's Chromium through
Playwright. Each run opens a fresh browser context (cold cache, no cookies) and loads
``/embed/<partner>?sso_token=...`` at top level: the token exchange (JWS check, account sign-in, session
opened), the 303, then ``/portal`` (eligibility, enrollment and subscription reads, template) and its
stylesheets and script, until the ``load`` event. The time is the Navigation Timing ``loadEventEnd``
(from navigation start, the redirect included). Baseline in the same run: the signed-out portal page
(same layout and assets, no token exchange and no ledger read).

Usage: ``python benchmarks/portal.py [--quick] [--runs N]``. A table goes to stderr; the last line of
stdout is one JSON object.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import (
    base_parser,
    emit_json,
    log,
    machine_info,
    print_table,
    utc_now,
)

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from support.http_server import live_server  # noqa: E402  # the tests' server harness
from support.portal import member_token, portal_partner  # noqa: E402

LOAD_END = "() => performance.getEntriesByType('navigation')[0].loadEventEnd"


def measure(runs: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    timings: dict[str, list[float]] = {"first view": [], "baseline (signed-out page)": []}
    with tempfile.TemporaryDirectory() as root, live_server(Path(root) / "data") as server:
        partner = portal_partner(server, [], members=runs)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            for member_id in partner.member_ids:
                token = member_token(partner.credentials, member_id)
                for case, url in (
                    ("baseline (signed-out page)", f"{server.url}/portal"),
                    ("first view", f"{server.url}/embed/{partner.partner_id}?sso_token={token}"),
                ):
                    context = browser.new_context()
                    page = context.new_page()
                    page.goto(url, wait_until="load")
                    timings[case].append(float(page.evaluate(LOAD_END)))
                    context.close()
            browser.close()
    return timings


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--runs", type=int, default=None, help="page loads per case (default 20; --quick 5)")
    args = parser.parse_args()
    runs = args.runs or (5 if args.quick else 20)
    log(f"portal first view: {runs} cold loads per case")
    timings = measure(runs)
    results: dict[str, Any] = {}
    rows = []
    for case, values in timings.items():
        ordered = sorted(values)
        summary = {
            "runs": len(values),
            "p50_ms": round(statistics.median(ordered), 1),
            "max_ms": round(ordered[-1], 1),
            "mean_ms": round(statistics.fmean(ordered), 1),
        }
        results[case] = summary
        rows.append([case, str(summary["p50_ms"]), str(summary["max_ms"]), str(summary["runs"])])
    print_table(["case", "p50 ms", "max ms", "runs"], rows, title="Portal first view (load event)")
    emit_json(
        {
            "benchmark": "portal",
            "taken_at": utc_now(),
            "quick": args.quick,
            "target_ms": 2000,
            "results": results,
            "machine": machine_info(None),
        },
        args.json_out,
    )


if __name__ == "__main__":
    main()
