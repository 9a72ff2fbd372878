"""troika's transaction path against plain web3.py, side by side in one run.

What it measures, per chain (the embedded EVM, and a real anvil that this
script starts on a free loopback port and always stops):

- ``transfer``: a native transfer signed locally with one key.
  troika: ``chain.transfer(to, value, sender=signer)`` with a keystore ``Signer``.
  web3: the same EIP-1559 transaction written the way a web3.py user would:
  ``estimate_gas``, fees from the latest block and ``max_priority_fee``, the
  nonce from ``get_transaction_count``, ``Account.sign_transaction``,
  ``send_raw_transaction``, ``wait_for_transaction_receipt``.
- ``set``: a contract write, ``Probe.set(uint256)`` (tests/artifacts/Probe.json).
  troika: ``probe.transact("set", i)``; web3: ``functions.set(i).build_transaction``
  + sign + send + wait.
- ``read``: a view call, ``probe.call("value")`` vs ``functions.value().call()``.

Every operation is timed on its own (wall clock, one op = send + mined receipt,
or one call). The two sides run in interleaved rounds (troika, web3, then web3,
troika, ...) on the same chain kind, so the noise of a shared machine falls on
both. Every workload starts on fresh chains: on the embedded EVM each side has
its own in-process chain (same py-evm backend); on anvil both sides share one
node, each with its own key and its own Probe. Each side does the same untimed
warm-up ops first (the first nonce fetch, web3's caches).

How to read it: ``ratio`` is troika's median time per op divided by web3's
(over all timed ops; ``rounds`` gives the lowest and highest per-round ratio as
a feel for the noise). Below 1 troika is faster, above 1 slower; 1.10 means
troika costs 10 % more per operation than the hand-written web3 code. Absolute
times depend on the machine, ratios much less so. Gas is exact: both sides send
the same calldata, so gas used per transaction must be identical, and the
``gas`` column says so (``!=`` flags a difference; the figure is the median).
``rpc/op`` is exact too: the JSON-RPC requests one op makes (counted by a web3
middleware on one extra, untimed op), troika/web3. On anvil every request is a
loopback HTTP round trip of about a millisecond, so this count explains most of
the ratio there.

Both sides keep their library's default receipt poll interval (troika 0.05 s,
web3 0.1 s). anvil mines right after answering eth_sendRawTransaction, so the
first receipt poll normally hits; on a chain of several hundred blocks or more
it starts to miss, and then the op costs a whole poll interval. So every
workload gets fresh chains; keep ``--n`` at a few hundred (a ``!`` in the table
flags rounds that disagree).

Run: ``.venv/bin/python bench/chain_send.py [--n 200] [--rounds 10]
[--chains embedded,anvil] [--json]``. With ``--json`` stdout is one JSON line
and the table goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import EthereumTesterProvider, Web3
from web3.middleware import Web3Middleware

from troika.chain import ArtifactStore, Chain, Contract, Keystore, Signer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests._services import Anvil, ServiceError  # noqa: E402

ARTIFACTS = ROOT / "tests" / "artifacts"

CHAINS = ("embedded", "anvil")
WORKLOADS = ("transfer", "set", "read")
FUNDING = 10**21  # wei given to each side's key: plenty for thousands of txs
PROBE_LIMIT = 2**255  # Probe.set reverts above its limit: never here
RECEIPT_TIMEOUT = 30.0  # seconds, for every receipt wait on both sides
RPC_TIMEOUT = 10.0  # seconds, for one JSON-RPC request to anvil
WARMUP = 3  # untimed ops per side and workload (first nonce fetch, caches)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the two sides ------------------------------------------------------------


class TroikaSide:
    """troika's public API, as a troika user writes it."""

    name = "troika"

    def __init__(self, chain: Chain, signer: Signer, funder: Signer | str) -> None:
        self.chain = chain
        self.w3 = chain.w3
        self.signer = signer
        self.recipient = Account.create().address
        chain.receipt_timeout = RECEIPT_TIMEOUT
        chain.transfer(signer.address, FUNDING, sender=funder)
        self.probe: Contract = chain.deploy(
            "Probe", PROBE_LIMIT, signer.address, sender=signer, record=False
        )
        self._next_value = 1

    def transfer(self) -> int:
        return self.chain.transfer(self.recipient, 1, sender=self.signer).gas_used

    def set(self) -> int:
        value, self._next_value = self._next_value, self._next_value + 1
        return self.probe.transact("set", value, sender=self.signer).gas_used

    def read(self) -> None:
        self.probe.call("value")


class Web3Side:
    """The same operations in plain web3.py v8 + eth_account."""

    name = "web3"

    def __init__(self, w3: Web3, account: LocalAccount, funder: str) -> None:
        self.w3 = w3
        self.account = account
        self.recipient = Account.create().address
        self.chain_id = w3.eth.chain_id  # asked once, as troika does
        funding: dict[str, Any] = {"from": funder, "to": account.address, "value": FUNDING}
        tx_hash = w3.eth.send_transaction(funding)  # type: ignore[arg-type]
        w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT)
        probe = json.loads((ARTIFACTS / "Probe.json").read_text(encoding="utf-8"))
        factory = w3.eth.contract(abi=probe["abi"], bytecode=probe["bytecode"])
        deploy = factory.constructor(PROBE_LIMIT, account.address).build_transaction(
            {"from": account.address, "nonce": w3.eth.get_transaction_count(account.address)}
        )
        receipt = self._sign_send_wait(deploy)
        self.probe = w3.eth.contract(address=receipt["contractAddress"], abi=probe["abi"])
        self._next_value = 1

    def _sign_send_wait(self, tx: dict[str, Any]) -> Any:
        signed = Account.sign_transaction(tx, self.account.key)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT)
        if receipt["status"] != 1:
            raise RuntimeError(f"web3 transaction {tx_hash.hex()} reverted")
        return receipt

    def transfer(self) -> int:
        w3, sender = self.w3, self.account.address
        tx: dict[str, Any] = {
            "from": sender,
            "to": self.recipient,
            "value": 1,
            "chainId": self.chain_id,
        }
        tx["gas"] = w3.eth.estimate_gas(tx)  # type: ignore[arg-type]
        base_fee = w3.eth.get_block("latest")["baseFeePerGas"]
        priority = w3.eth.max_priority_fee
        tx["maxPriorityFeePerGas"] = priority
        tx["maxFeePerGas"] = 2 * base_fee + priority
        tx["nonce"] = w3.eth.get_transaction_count(sender)
        return int(self._sign_send_wait(tx)["gasUsed"])

    def set(self) -> int:
        value, self._next_value = self._next_value, self._next_value + 1
        sender = self.account.address
        tx = self.probe.functions.set(value).build_transaction(
            {"from": sender, "nonce": self.w3.eth.get_transaction_count(sender)}
        )
        return int(self._sign_send_wait(dict(tx))["gasUsed"])

    def read(self) -> None:
        self.probe.functions.value().call()


Side = TroikaSide | Web3Side


# -- the chains ---------------------------------------------------------------


@contextlib.contextmanager
def anvil() -> Iterator[str]:
    """Start anvil on a free loopback port (tests/_services.py), yield its URL, always stop it.

    --prune-history: past a few hundred blocks anvil otherwise writes a state
    file per block under ~/.foundry and leaves them behind.
    """
    try:
        node = Anvil(extra_args=["--prune-history"])
    except ServiceError as exc:
        raise SystemExit(f"{exc} (install contracts/ with tools/setup.sh dev)") from exc
    try:
        node.start()
    except ServiceError as exc:
        raise SystemExit(f"anvil did not start: {exc}") from exc
    try:
        yield node.url
    finally:
        node.stop()


def _troika_signer(home: Path) -> Signer:
    keystore = Keystore(home, scrypt_n=2**10)
    keystore.new("bench", "bench-password")
    return keystore.unlock("bench", "bench-password")


@contextlib.contextmanager
def sides(kind: str) -> Iterator[tuple[TroikaSide, Web3Side]]:
    """The troika side and the web3 side on one kind of chain, funded and deployed."""
    artifacts = ArtifactStore([ARTIFACTS])
    with tempfile.TemporaryDirectory(prefix="troika-bench-") as tmp:
        home = Path(tmp)
        signer = _troika_signer(home)
        account: LocalAccount = Account.create()
        if kind == "embedded":
            chain = Chain.embedded(artifacts=artifacts)
            w3 = Web3(EthereumTesterProvider())
            yield (
                TroikaSide(chain, signer, chain.dev_signers[0]),
                Web3Side(w3, account, w3.eth.accounts[0]),
            )
            return
        with (
            anvil() as url,
            Chain.connect(url, home=home, artifacts=artifacts, timeout=RPC_TIMEOUT) as chain,
        ):
            session = requests.Session()  # as troika's connect does, so it can be closed
            provider = Web3.HTTPProvider(
                url, request_kwargs={"timeout": RPC_TIMEOUT}, session=session
            )
            try:
                w3 = Web3(provider)
                funders = list(w3.eth.accounts)  # anvil's unlocked dev accounts
                yield TroikaSide(chain, signer, funders[0]), Web3Side(w3, account, funders[1])
            finally:
                session.close()


# -- measuring ----------------------------------------------------------------


def _p90(times: list[float]) -> float:
    return statistics.quantiles(times, n=10)[-1] if len(times) > 1 else times[0]


@dataclass
class Samples:
    times: list[float] = field(default_factory=list)  # seconds per op
    gas: list[int] = field(default_factory=list)  # gas used per tx, in order


@dataclass
class Result:
    chain: str
    workload: str
    troika: Samples
    web3: Samples
    round_ratios: list[float]
    troika_rpc: list[str] = field(default_factory=list)  # JSON-RPC methods of one op
    web3_rpc: list[str] = field(default_factory=list)

    @property
    def troika_median(self) -> float:
        return statistics.median(self.troika.times)

    @property
    def web3_median(self) -> float:
        return statistics.median(self.web3.times)

    @property
    def ratio(self) -> float:
        return self.troika_median / self.web3_median

    @property
    def unstable(self) -> bool:
        """The per-round ratios disagree by more than half: read the ratio with care."""
        return max(self.round_ratios) > 1.5 * min(self.round_ratios)

    @property
    def gas_identical(self) -> bool | None:
        if not self.troika.gas:
            return None
        return self.troika.gas == self.web3.gas

    def as_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "chain": self.chain,
            "workload": self.workload,
            "ops_per_side": len(self.troika.times),
            "troika_median_s": self.troika_median,
            "web3_median_s": self.web3_median,
            "ratio": self.ratio,
            "round_ratio_min": min(self.round_ratios),
            "round_ratio_max": max(self.round_ratios),
            "unstable": self.unstable,
            "troika_p90_s": _p90(self.troika.times),
            "web3_p90_s": _p90(self.web3.times),
            "troika_rpc_per_op": self.troika_rpc,
            "web3_rpc_per_op": self.web3_rpc,
        }
        if self.troika.gas:
            entry["troika_gas_median"] = int(statistics.median(self.troika.gas))
            entry["web3_gas_median"] = int(statistics.median(self.web3.gas))
            entry["troika_gas_total"] = sum(self.troika.gas)
            entry["web3_gas_total"] = sum(self.web3.gas)
            entry["gas_identical"] = self.gas_identical
        return entry


def _op(side: Side, workload: str) -> Callable[[], int | None]:
    op: Callable[[], int | None] = getattr(side, workload)
    return op


def rpc_calls(side: Side, workload: str) -> list[str]:
    """The JSON-RPC methods one (untimed) op sends, in order: an exact count."""
    seen: list[str] = []

    class Count(Web3Middleware):
        def wrap_make_request(self, make_request: Any) -> Any:
            def counted(method: Any, params: Any) -> Any:
                seen.append(str(method))
                return make_request(method, params)

            return counted

    side.w3.middleware_onion.add(Count, name="bench_count")
    try:
        _op(side, workload)()
    finally:
        side.w3.middleware_onion.remove("bench_count")
    return seen


def measure(
    kind: str, workload: str, troika: TroikaSide, web3: Web3Side, n: int, rounds: int
) -> Result:
    samples = {troika.name: Samples(), web3.name: Samples()}
    for side in (troika, web3):  # same untimed warm-up on both: gas lists stay aligned
        op = _op(side, workload)
        for _ in range(WARMUP):
            op()
    rounds = max(1, min(rounds, n))
    round_ratios: list[float] = []
    done = 0
    for round_index in range(rounds):
        batch = (n - done) // (rounds - round_index)
        done += batch
        order = (troika, web3) if round_index % 2 == 0 else (web3, troika)
        medians: dict[str, float] = {}
        for side in order:
            op = _op(side, workload)
            times: list[float] = []
            for _ in range(batch):
                start = time.perf_counter()
                gas = op()
                times.append(time.perf_counter() - start)
                if gas is not None:
                    samples[side.name].gas.append(gas)
            samples[side.name].times.extend(times)
            medians[side.name] = statistics.median(times)
        round_ratios.append(medians[troika.name] / medians[web3.name])
    result = Result(kind, workload, samples[troika.name], samples[web3.name], round_ratios)
    # After the timing, so the counting never costs a timed op anything.
    result.troika_rpc = rpc_calls(troika, workload)
    result.web3_rpc = rpc_calls(web3, workload)
    return result


# -- reporting ----------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:8.2f}"


def _gas(result: Result) -> str:
    if not result.troika.gas:
        return "-"
    troika = int(statistics.median(result.troika.gas))
    web3 = int(statistics.median(result.web3.gas))
    if result.gas_identical:
        return f"{troika} = {web3}"
    return f"{troika} != {web3}"


def table(results: list[Result], n: int, rounds: int) -> str:
    header = (
        f"{'chain':<9} {'workload':<9} {'troika ms':>9} {'web3 ms':>9} "
        f"{'ratio':>6} {'rounds':>11} {'rpc/op':>7}  gas/tx (troika = web3)"
    )
    lines = [
        f"troika vs web3.py: median per op over {n} ops per side, {rounds} interleaved rounds",
        header,
        "-" * len(header),
    ]
    for r in results:
        spread = f"{'!' if r.unstable else ''}{min(r.round_ratios):.2f}-{max(r.round_ratios):.2f}"
        rpc = f"{len(r.troika_rpc)}/{len(r.web3_rpc)}"
        lines.append(
            f"{r.chain:<9} {r.workload:<9} {_ms(r.troika_median):>9} {_ms(r.web3_median):>9} "
            f"{r.ratio:>6.2f} {spread:>11} {rpc:>7}  {_gas(r)}"
        )
    lines.append(
        "ratio = troika / web3 (below 1: troika faster); rounds = per-round min-max; "
        "rpc/op = JSON-RPC requests per op, troika/web3"
    )
    if any(r.unstable for r in results):
        lines.append(
            "! rounds disagree by more than 1.5x (a busy machine, or on anvil a long chain "
            "whose first receipt poll misses): rerun, or lower --n"
        )
    return "\n".join(lines)


def _chains(value: str) -> list[str]:
    chosen = [c.strip() for c in value.split(",") if c.strip()]
    unknown = [c for c in chosen if c not in CHAINS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"choose from {','.join(CHAINS)}, got {value!r}")
    return chosen


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value!r}")
    return number


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=_positive, default=200, help="timed ops per side (200)")
    parser.add_argument("--rounds", type=_positive, default=10, help="interleaved rounds (10)")
    parser.add_argument(
        "--chains", type=_chains, default=list(CHAINS), help="embedded,anvil (both)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON line on stdout")
    args = parser.parse_args(argv)

    # A SIGTERM unwinds like Ctrl-C, so every finally (stopping anvil) runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    started = time.perf_counter()
    results: list[Result] = []
    for kind in args.chains:
        for workload in WORKLOADS:
            # Fresh chains for every workload: anvil mines more slowly as its
            # chain grows (past several hundred blocks the first receipt poll
            # starts to miss), so no workload inherits the blocks of the last.
            log(f"{kind}: {workload} x {args.n} per side")
            with sides(kind) as (troika, web3):
                results.append(measure(kind, workload, troika, web3, args.n, args.rounds))
    elapsed = time.perf_counter() - started

    rounds = max(1, min(args.rounds, args.n))
    report = table(results, args.n, rounds)
    if args.json:
        log(report)
        line = {
            "benchmark": "chain_send",
            "n": args.n,
            "rounds": rounds,
            "elapsed_s": round(elapsed, 1),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "versions": {
                p: version(p) for p in ("troika-sdk", "web3", "eth-account", "eth-tester", "py-evm")
            },
            "results": [r.as_json() for r in results],
        }
        print(json.dumps(line, separators=(",", ":")))
    else:
        print(report)
        print(f"({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
