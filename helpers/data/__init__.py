"""The data layer: DataFrames, reconciliation, bulk import (pandas). Importing it tells the core's records who sees
their display (:mod:`helpers.data.people`)."""

from helpers.data import people as _people  # noqa: F401
