"""Toolkit for Cashlink's registry (Distributor) API: a small client, checks, DataFrames and notebook forms.

    import helpers
    client = helpers.connect()            # reads .env; the local sandbox by default
    client.investors.frame()              # every investor, every page, personal data masked
"""

from helpers.client import Client, ListResult, connect
from helpers.config import Config, load_config
from helpers.errors import (
    APIConnectionError,
    AuthenticationError,
    CashlinkError,
    ConflictError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TaskError,
    ValidationError,
)
from helpers.frames import Record, money_value, to_frame

__all__ = [
    "APIConnectionError", "AuthenticationError", "CashlinkError", "Client", "Config", "ConflictError", "InputError",
    "ListResult", "NotFoundError", "PermissionDeniedError", "RateLimitError", "Record", "ServerError", "TaskError",
    "ValidationError", "connect", "load_config", "money_value", "to_frame",
]
