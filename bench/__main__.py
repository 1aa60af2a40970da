"""Run every benchmark: ``python -m bench`` (or ``make bench``)."""

import importlib

for name in ("list_investments", "reconcile", "bulk_import", "sandbox_pages"):
    print(f"== {name}")
    importlib.import_module(f"bench.{name}").main()
