"""``troika did serve``: the resolver service (registered on ``did_app``)."""

from __future__ import annotations

from troika.cli._did import did_app

__all__ = ["did_app"]
