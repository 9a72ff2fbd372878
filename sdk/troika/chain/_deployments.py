"""Where troika's contracts live on each chain."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from troika._files import write_json_atomically

__all__ = ["Deployment", "Deployments"]


@dataclass(frozen=True)
class Deployment:
    """One deployed contract: its name, address and the transaction that made it."""

    name: str
    address: str
    tx_hash: str
    block_number: int


class Deployments:
    """The deployments record of one chain.

    Kept in ``<home>/deployments/<chain_id>.json`` for chains that outlive the
    process, and in memory only for the embedded EVM (which starts afresh each
    time, so a file would only ever be stale).
    """

    def __init__(self, chain_id: int, path: Path | None) -> None:
        self.chain_id = chain_id
        self.path = path
        self._lock = threading.Lock()
        self._entries: dict[str, Deployment] = {}
        if path is not None and path.is_file():
            for name, entry in json.loads(path.read_text(encoding="utf-8")).items():
                self._entries[name] = Deployment(name=name, **entry)

    @classmethod
    def for_home(cls, home: Path, chain_id: int) -> Deployments:
        """The record of ``chain_id`` under the troika home."""
        return cls(chain_id, home.expanduser() / "deployments" / f"{chain_id}.json")

    def get(self, name: str) -> Deployment | None:
        """The recorded deployment of ``name``, if any."""
        return self._entries.get(name)

    def all(self) -> list[Deployment]:
        """Every recorded deployment, sorted by name."""
        return [self._entries[name] for name in sorted(self._entries)]

    def record(self, deployment: Deployment) -> None:
        """Record (or replace) a deployment and save the file atomically."""
        with self._lock:
            self._entries[deployment.name] = deployment
            if self.path is None:
                return
            data = {
                name: {k: v for k, v in asdict(entry).items() if k != "name"}
                for name, entry in self._entries.items()
            }
            write_json_atomically(self.path, data, indent=2)
