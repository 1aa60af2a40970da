"""Run the benchmarks: ``python -m bench [--quick] [--profile strict|drf] [NAME ...]`` (``make bench``).

The full run measures issue 14's goals (minutes); ``--quick`` runs every benchmark on small data in a few seconds
each, as a smoke test (its figures say little). Every goal checked is summed up at the end.
"""

from __future__ import annotations

import argparse
import importlib
import time

from bench import common

BENCHMARKS = (
    "startup",
    "list_investments",
    "concurrent_pages",
    "bulk_import",
    "transport",
    "reconcile",
    "sandbox_pages",
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds per benchmark")
    parser.add_argument("--profile", choices=["strict", "drf"], help="the sandbox profile (default SANDBOX_PROFILE)")
    # No ``choices=``: with nargs="*", Python 3.11's argparse checks the default (an empty list) against them too,
    # and the list of choices would show as {[],startup,...}. The names are checked below instead.
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"only these benchmarks (default: all): {', '.join(BENCHMARKS)}"
    )
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(
            f"no benchmark {', '.join(repr(name) for name in unknown)}; choose from {', '.join(BENCHMARKS)}, or "
            "give none to run them all"
        )
    common.OPTIONS.quick = args.quick
    if args.profile:
        common.OPTIONS.profile = args.profile
    for name in args.names or BENCHMARKS:
        started = time.perf_counter()
        print(f"== {name}", flush=True)
        importlib.import_module(f"bench.{name}").main()
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
    met = sum(1 for _name, ok, _figure in common.GOALS if ok)
    print(f"== goals: {met} of {len(common.GOALS)} met in this run{' (quick: small sizes)' if args.quick else ''}")
    for name, ok, figure in common.GOALS:
        print(f"  {'met   ' if ok else 'MISSED'} {name}: {figure}")


if __name__ == "__main__":
    main()
