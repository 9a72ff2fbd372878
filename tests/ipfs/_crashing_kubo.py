"""A Kubo that can be killed in the middle of an upload and started again on its repo."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._services import Kubo

MIB = 1024 * 1024


class RestartableKubo(Kubo):
    """A Kubo that can be started again on the repo it made the first time."""

    def prepare(self) -> None:
        if not (self.ipfs_path / "config").exists():
            super().prepare()


def kill(node: Kubo) -> None:
    assert node.pid is not None
    os.kill(node.pid, signal.SIGKILL)
    node.stop()  # reaps the process


class KillAndRestart:
    """A progress callback that kills ``node`` once 16 MiB are sent, and starts it again.

    The daemon dies with the thread that started it (PR_SET_PDEATHSIG), so the
    restarting thread lives until :meth:`finish` (call it once the test is done
    with the node).
    """

    def __init__(self, node: Kubo) -> None:
        self.node = node
        self.kills: list[int] = []
        self.restarted = threading.Event()
        self._finished = threading.Event()

    def __call__(self, sent: int, total: int | None) -> None:
        if sent >= 16 * MIB and not self.kills:
            self.kills.append(sent)
            kill(self.node)
            threading.Thread(target=self._restart, daemon=True).start()

    def _restart(self) -> None:
        time.sleep(0.3)
        self.node.start()
        self.restarted.set()
        self._finished.wait(timeout=60)

    def finish(self) -> None:
        self._finished.set()


@pytest.fixture
def crashing_kubo(tmp_path: Path) -> Iterator[RestartableKubo]:
    """A Kubo of the test's own (offline), to kill and restart; stopped after."""
    node = RestartableKubo(offline=True, workdir=tmp_path / "kubo")
    node.start()
    try:
        yield node
    finally:
        node.stop()
