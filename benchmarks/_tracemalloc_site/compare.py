"""Top allocation growth between two tracemalloc snapshots of one process (see sitecustomize.py here).

Usage: ``python benchmarks/_tracemalloc_site/compare.py FIRST.snap LAST.snap [--top 25] [--frames 8]``.
"""

from __future__ import annotations

import argparse
import tracemalloc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("first")
    parser.add_argument("last")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--key", default="traceback", choices=("traceback", "lineno", "filename"))
    args = parser.parse_args()
    ignore = [
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap*>"),
    ]
    first = tracemalloc.Snapshot.load(args.first).filter_traces(ignore)
    last = tracemalloc.Snapshot.load(args.last).filter_traces(ignore)
    total_first = sum(stat.size for stat in first.statistics("filename"))
    total_last = sum(stat.size for stat in last.statistics("filename"))
    print(f"traced: {total_first / 2**20:.1f} MiB -> {total_last / 2**20:.1f} MiB")
    for stat in last.compare_to(first, args.key)[: args.top]:
        print(f"\n+{stat.size_diff / 2**10:,.0f} KiB ({stat.count_diff:+,} blocks), now {stat.size / 2**10:,.0f} KiB")
        for line in stat.traceback.format(limit=args.frames, most_recent_first=True):
            print("   ", line)


if __name__ == "__main__":
    main()
