"""A local, stateful emulator of Cashlink's registry (Distributor) API: real HTTP, real SQLite."""

from sandbox.settings import Faults, Settings

__all__ = ["Faults", "Settings", "build"]


def build(settings: Settings):  # noqa: ANN201 - returns an ASGI app
    """The sandbox as an ASGI application (routes, aliases and fault injection)."""
    from sandbox.app import create_app
    from sandbox.asgi import SandboxASGI

    app = create_app(settings)
    return SandboxASGI(app, settings.faults)
