"""Real anvil and Kubo processes for the test suite, on loopback only.

Each service starts on free 127.0.0.1 ports with its data in a temporary
directory, keeps its output in log files there, and waits (bounded) until it
answers; if it does not, the error quotes the tail of its logs.

```
with Anvil() as chain, Kubo() as ipfs:
    chain.url       # http://127.0.0.1:PORT, JSON-RPC
    ipfs.api_url    # http://127.0.0.1:PORT, Kubo RPC (/api/v0)
```
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
ANVIL_DEFAULT = REPO_ROOT / "contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
KUBO_BUILD_SCRIPT = REPO_ROOT / "tools/kubo/build.sh"

START_TIMEOUT = 30.0  # seconds a service may take to answer after it starts
STOP_TIMEOUT = 10.0  # seconds it may take to exit on SIGTERM before it is killed
BUILD_TIMEOUT = 900.0  # seconds tools/kubo/build.sh may take (it compiles on a cold cache)
TEST_MNEMONIC = "test test test test test test test test test test test junk"


class ServiceError(RuntimeError):
    """A service could not be found, started or stopped."""


class BinaryNotFound(ServiceError):
    """The service's executable is missing; the message says how to install it."""


def free_ports(count: int) -> list[int]:
    """Distinct TCP ports on 127.0.0.1 that nobody listens on right now."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            # Holding every socket until all are chosen keeps the ports distinct.
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    return free_ports(1)[0]


def tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log file, or a note that there is none."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"(no {path.name})"
    kept = text.splitlines()[-lines:]
    return "\n".join(kept) if kept else f"({path.name} is empty)"


# Loaded here, not in the forked child, where loading a library is unsafe.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    # If pytest is killed outright (pytest-timeout's thread method, SIGKILL),
    # the service goes too instead of lingering on its port.
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Service:
    """One long-running process with its own temporary directory and logs.

    Subclasses set ``name``, build ``command()`` and implement ``ready()``.
    """

    name = "service"

    def __init__(self, workdir: Path | None = None) -> None:
        self._owns_workdir = workdir is None
        self.workdir = (
            Path(tempfile.mkdtemp(prefix=f"troika-{self.name}-")) if workdir is None else workdir
        )
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.stdout_log = self.workdir / f"{self.name}.stdout.log"
        self.stderr_log = self.workdir / f"{self.name}.stderr.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._logs: list[IO[bytes]] = []

    # -- for subclasses --------------------------------------------------------

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def prepare(self) -> None:
        """Work done before the process starts (say, initialising a repo)."""

    def ready(self, client: httpx.Client) -> bool:
        """Whether the service answers; called repeatedly until it does."""
        raise NotImplementedError

    # -- lifecycle -------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def logs(self) -> str:
        """The tails of the service's stdout and stderr logs, for error messages."""
        return (
            f"--- {self.stderr_log} (tail) ---\n{tail(self.stderr_log)}\n"
            f"--- {self.stdout_log} (tail) ---\n{tail(self.stdout_log)}"
        )

    def start(self) -> Self:
        """Start the process and wait until it answers, or raise ServiceError."""
        if self._process is not None:
            raise ServiceError(f"{self.name} is running already (pid {self._process.pid})")
        try:
            self.prepare()
            stdout = self.stdout_log.open("ab")
            self._logs.append(stdout)
            stderr = self.stderr_log.open("ab")
            self._logs.append(stderr)
            self._process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                env=self.environment(),
                cwd=self.workdir,
                preexec_fn=_die_with_parent,
            )
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + START_TIMEOUT
        last_error = "no attempt yet"
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while True:
                code = self._process.poll()
                if code is not None:
                    raise ServiceError(
                        f"{self.name} exited with code {code} while starting: "
                        f"{' '.join(self.command())}\n{self.logs()}"
                    )
                try:
                    if self.ready(client):
                        return
                    last_error = "answered, but not ready yet"
                except (httpx.HTTPError, ValueError) as exc:
                    last_error = f"{type(exc).__name__}: {exc}"
                if time.monotonic() > deadline:
                    raise ServiceError(
                        f"{self.name} (pid {self._process.pid}) did not answer within "
                        f"{START_TIMEOUT} s (last attempt: {last_error})\n{self.logs()}"
                    )
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL), close its logs, drop the workdir."""
        process, self._process = self._process, None
        try:
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=STOP_TIMEOUT)
        finally:
            for log in self._logs:
                log.close()
            self._logs.clear()
            if self._owns_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


# -- anvil -----------------------------------------------------------------------


def anvil_binary() -> Path:
    """The anvil executable: ``$TROIKA_ANVIL``, else the one npm installs in contracts/."""
    configured = os.environ.get("TROIKA_ANVIL")
    binary = Path(configured) if configured else ANVIL_DEFAULT
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        source = "$TROIKA_ANVIL" if configured else "the default path"
        raise BinaryNotFound(
            f"anvil is not an executable at {str(binary)!r} ({source}); the README's test "
            "command, tools/test.sh, installs it (with `npm ci --prefix contracts`), or point "
            "TROIKA_ANVIL at one"
        )
    return binary


class Anvil(Service):
    """A local anvil chain with the well-known test mnemonic's ten funded accounts.

    With ``state``, the chain lives in that file: loaded from it at each start
    (if it exists), written to it on SIGTERM (so ``stop()`` keeps it) and, with
    ``state_interval``, every that many seconds while it runs, so a chain
    killed outright (:meth:`kill`) comes back from its last dump. Every start
    is on the same port, so clients keep their URL across a restart.

    ```
    anvil = Anvil(workdir=tmp, state=tmp / "state.json", state_interval=1).start()
    anvil.kill()  # SIGKILL: no dump on exit, only the periodic ones survive
    anvil.start()  # the same URL, the chain as last dumped (pending transactions lost)
    ```

    Args:
        chain_id: The chain id it serves.
        extra_args: More anvil arguments, such as ``["--no-mining"]``.
        workdir: Where its logs go; a temporary directory (removed on stop) if None.
            Give one to restart a chain with ``state`` after ``stop()``.
        binary: The anvil executable; see :func:`anvil_binary` if None.
        state: The state file (anvil's ``--state``: load at start, dump on exit).
        state_interval: Whole seconds between dumps of ``state`` while it runs
            (anvil's ``--state-interval``); only on exit if None.
    """

    name = "anvil"

    def __init__(
        self,
        *,
        chain_id: int = 31337,
        extra_args: Sequence[str] = (),
        workdir: Path | None = None,
        binary: Path | None = None,
        state: Path | None = None,
        state_interval: int | None = None,
    ) -> None:
        if state_interval is not None and (state is None or state_interval < 1):
            raise ServiceError(
                f"state_interval={state_interval!r} needs a state file and whole seconds >= 1"
            )
        self.binary = anvil_binary() if binary is None else binary
        self.chain_id = chain_id
        self.port = free_port()
        self.extra_args = list(extra_args)
        self.state = state
        self.state_interval = state_interval
        super().__init__(workdir)

    def kill(self) -> None:
        """SIGKILL the chain, as a crash would: it dumps nothing on the way out.

        The workdir and ``state`` stay; :meth:`start` brings the chain back on
        the same port from the last dump.
        """
        process, self._process = self._process, None
        try:
            if process is not None:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)
        finally:
            for log in self._logs:
                log.close()
            self._logs.clear()

    def dumped_block(self) -> int | None:
        """The latest block number in ``state`` as last dumped (None: no dump yet)."""
        if self.state is None:
            return None
        try:
            dumped = json.loads(self.state.read_text())
        except (FileNotFoundError, ValueError):  # not written yet, or being written
            return None
        return int(dumped["block"]["number"], 16)

    def wait_dumped(self, block: int, timeout: float = START_TIMEOUT) -> None:
        """Wait until ``state`` holds block ``block`` (or a later one), at most ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while (self.dumped_block() or -1) < block:
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"anvil did not dump block {block} to {self.state} within {timeout} s "
                    f"(last dumped: {self.dumped_block()})\n{self.logs()}"
                )
            time.sleep(0.1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            str(self.binary),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--chain-id", str(self.chain_id),
            # The defaults, made explicit so the accounts never drift.
            "--mnemonic", TEST_MNEMONIC,
            "--accounts", "10",
            "--balance", "10000",
            "--quiet",  # errors still reach stderr
            "--color", "never",
            *(["--state", str(self.state)] if self.state is not None else []),
            *(
                ["--state-interval", str(self.state_interval)]
                if self.state_interval is not None
                else []
            ),
            *self.extra_args,
        ]  # fmt: skip

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("ANVIL_IP_ADDR", None)
        return env

    def ready(self, client: httpx.Client) -> bool:
        answer = client.post(
            self.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
        )
        return answer.status_code == 200 and answer.json().get("result") == hex(self.chain_id)


# -- Kubo ------------------------------------------------------------------------


def kubo_binary() -> Path:
    """The ipfs executable: ``$TROIKA_KUBO``, else the one tools/kubo/build.sh caches."""
    configured = os.environ.get("TROIKA_KUBO")
    if configured:
        binary = Path(configured)
        if not (binary.is_file() and os.access(binary, os.X_OK)):
            raise BinaryNotFound(
                f"$TROIKA_KUBO={configured!r} is not an executable; unset it to use the Kubo "
                "that the README's test command, tools/test.sh, builds"
            )
        return binary
    try:
        built = subprocess.run(
            ["bash", str(KUBO_BUILD_SCRIPT)],
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BinaryNotFound(
            f"tools/kubo/build.sh took more than {BUILD_TIMEOUT} s; run the README's test "
            "command, tools/test.sh, which builds Kubo once, or set TROIKA_KUBO"
        ) from exc
    lines = built.stdout.strip().splitlines()
    if built.returncode != 0 or not lines or not Path(lines[-1]).is_file():
        raise BinaryNotFound(
            f"tools/kubo/build.sh failed (exit {built.returncode}); the README's test "
            "command, tools/test.sh, builds Kubo with it (it needs Go), or set TROIKA_KUBO.\n"
            f"stdout: {built.stdout[-2000:]}\nstderr: {built.stderr[-2000:]}"
        )
    return Path(lines[-1])


def _isolate(config: dict[str, object], api_port: int, gateway_port: int) -> None:
    """Point a Kubo config (from ``ipfs init --profile test``) at loopback only."""

    def section(name: str) -> dict[str, object]:
        value = config.setdefault(name, {})
        assert isinstance(value, dict), name
        return value

    addresses = section("Addresses")
    addresses["API"] = f"/ip4/127.0.0.1/tcp/{api_port}"
    addresses["Gateway"] = f"/ip4/127.0.0.1/tcp/{gateway_port}"
    # libp2p stays up (a real online node, which two test nodes could peer
    # through), but on loopback only, and nothing tells it of any peer.
    addresses["Swarm"] = ["/ip4/127.0.0.1/tcp/0"]
    addresses["Announce"] = []
    addresses["NoAnnounce"] = []
    config["Bootstrap"] = []
    section("Discovery")["MDNS"] = {"Enabled": False}
    # No DHT and no delegated HTTP routers: content the node lacks is never
    # looked for elsewhere (so `cat` of a missing CID waits until its timeout).
    section("Routing")["Type"] = "none"
    section("AutoConf")["Enabled"] = False
    section("AutoTLS")["Enabled"] = False
    section("AutoNAT")["ServiceMode"] = "disabled"
    swarm = section("Swarm")
    swarm["DisableNatPortMap"] = True
    swarm["RelayClient"] = {"Enabled": False}
    swarm["RelayService"] = {"Enabled": False}
    transports = swarm.setdefault("Transports", {})
    assert isinstance(transports, dict)
    transports.setdefault("Network", {})["Relay"] = False  # no /p2p-circuit listener
    section("HTTPRetrieval")["Enabled"] = False
    section("Provide")["Enabled"] = False
    plugins = section("Plugins")
    plugins["Plugins"] = {"telemetry": {"Disabled": True}}


class Kubo(Service):
    """A Kubo (go-ipfs) daemon with a fresh repo, online but isolated on loopback.

    Args:
        offline: Run ``ipfs daemon --offline`` (no libp2p at all; ``cat`` of a
            missing CID then fails at once instead of searching).
        workdir: Where the repo and logs go; a temporary directory (removed on
            stop) if None.
        binary: The ipfs executable; see :func:`kubo_binary` if None.
    """

    name = "kubo"

    def __init__(
        self, *, offline: bool = False, workdir: Path | None = None, binary: Path | None = None
    ) -> None:
        self.binary = kubo_binary() if binary is None else binary
        self.offline = offline
        self.api_port, self.gateway_port = free_ports(2)
        super().__init__(workdir)
        self.ipfs_path = self.workdir / "repo"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def environment(self) -> dict[str, str]:
        # Drop inherited IPFS_* settings (IPFS_HTTP_ROUTERS, IPFS_PATH, ...) so the
        # node is the same wherever the suite runs.
        env = {key: value for key, value in os.environ.items() if not key.startswith("IPFS_")}
        env["IPFS_PATH"] = str(self.ipfs_path)
        env["IPFS_TELEMETRY"] = "off"
        return env

    def cli(self, *args: str, input: bytes | None = None, ipfs_path: Path | None = None) -> str:
        """Run the ``ipfs`` CLI on this node's repo, or on the repo at ``ipfs_path``.

        While the daemon runs, the CLI sends commands on its repo to the daemon's
        RPC API (as a client); on a repo without a daemon it runs them itself.

        Returns its stdout, stripped; raises ServiceError with its stderr if it fails.
        """
        env = self.environment()
        if ipfs_path is not None:
            env["IPFS_PATH"] = str(ipfs_path)
        try:
            done = subprocess.run(
                [str(self.binary), *args],
                input=input,
                capture_output=True,
                env=env,
                timeout=START_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ServiceError(f"`ipfs {' '.join(args)}` took more than {START_TIMEOUT} s") from exc
        if done.returncode != 0:
            raise ServiceError(
                f"`ipfs {' '.join(args)}` failed with exit code {done.returncode}: "
                f"{done.stderr.decode(errors='replace').strip()}"
            )
        return done.stdout.decode().strip()

    def prepare(self) -> None:
        self.cli("init", "--profile", "test")
        config_path = self.ipfs_path / "config"
        config = json.loads(config_path.read_text())
        _isolate(config, self.api_port, self.gateway_port)
        config_path.write_text(json.dumps(config, indent=2))

    def command(self) -> list[str]:
        command = [str(self.binary), "daemon"]
        if self.offline:
            command.append("--offline")
        return command

    def ready(self, client: httpx.Client) -> bool:
        # bafkqaaa is the empty identity CID: the gateway serves it without any lookup.
        return (
            client.post(f"{self.api_url}/api/v0/version").status_code == 200
            and client.get(f"{self.gateway_url}/ipfs/bafkqaaa").status_code == 200
        )
