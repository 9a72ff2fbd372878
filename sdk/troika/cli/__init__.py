"""troika.cli: the ``troika`` command, a thin shell over the public API."""

from troika.cli._app import app, main

__all__ = ["app", "main"]
