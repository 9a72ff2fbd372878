"""A Kubo that can be killed in the middle of an upload and started again on its repo."""

from __future__ import annotations

import os
import signal

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
