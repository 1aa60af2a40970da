"""A local, stateful emulator of Cashlink's registry (Distributor) API: real HTTP, real SQLite."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp

from sandbox.settings import Faults, Settings

__all__ = ["Faults", "Settings", "build"]


def build(settings: Settings) -> tuple[ASGIApp, FastAPI]:
    """The sandbox as an ASGI application (with its outer layers), and the FastAPI app inside."""
    from sandbox.app import create_app
    from sandbox.asgi import wrap

    app = create_app(settings)
    return wrap(app), app
