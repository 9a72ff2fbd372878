"""Mint throughput on anvil: troika's batched mint against OpenZeppelin's one token per transaction.

The same N datasets (files of 1 KiB of random bytes, written once) are minted
as tokens, on a fresh anvil per workload (tests/_services.Anvil; anvil mines
each transaction as it arrives), each workload with a fresh LocalStore:

- ``troika``: ``Assets(chain, LocalStore(tmp), identity=None).mint_batch(requests,
  batch_size=B)`` with ``encrypt=False`` (public datasets), for each ``--batch-size``
  (256, troika's default, and 100). Timed: the whole call, which pins each file
  (``troika.ipfs.add``), pins its metadata JSON, confirms every pin, then sends
  one ``AssetRegistry.mintBatch`` per B tokens (each after reading the
  commitments the owner already holds, so that a retry mints nothing twice).
  With ``--encrypt`` (on by default), also one workload with ``encrypt=True``:
  the owner is an Identity from a Keystore signer (as ``troika asset mint``
  builds it), funded from anvil's dev account, and the dev account
  (``chain.default_sender``) mints; every file is encrypted to the owner's
  X25519 key and its key envelope pinned too.
- ``OZ``: tests/artifacts/UriStorageAssets.json, OpenZeppelin's
  ERC721URIStorage compiled by the same solc, ``mintBatch(to, [uri])`` with one
  URI per transaction (``_mint`` + ``_setTokenURI`` of ``ipfs://<metadata CID>``).
  First the same IPFS work as troika's, into a fresh LocalStore: each file
  through ``troika.ipfs.add``, its sha2-256, and the same metadata document
  (``DatasetMetadata.with_content(...).to_json()``, byte for byte the one
  troika pins: checked) ``put`` and ``pin`` as a raw block under
  ``CID.of(document)``. Then N transactions, one token each, sent two ways,
  each on its own fresh anvil: troika's ``Chain`` (``contract.transact``) and
  plain web3.py v8 (``contract.functions.mintBatch(...).transact({"from": ...})``,
  that is ``eth_sendTransaction``, then ``wait_for_transaction_receipt``).
  The faster of the two is the peer figure.

Both sides send from anvil's unlocked dev account (the node signs). For each
workload two times: ``pipeline`` (pin + metadata + mint, end to end) and
``chain`` (the chain part alone: troika, the time inside
``AssetRegistry.mint_batch`` and ``minted_commitments``, the registry calls
``mint_batch`` makes, measured by wrapping them, and also from the last "pin"
``MintProgress`` event to the return; OZ, the send loop). Tokens per second
are N over those times. Workloads run in interleaved rounds (the order
reversed every other round); the figures are medians over rounds. Gas is
exact, from the receipts: total for the N tokens and per token (registry and
contract deployments excluded). The files are random, so the 32-byte
commitments in troika's calldata are too: its gas moves by a few hundred per
run (zero and non-zero calldata bytes cost 4 and 16), never between the
rounds of one run (checked; but for the encrypted workload, new keys per round).

Run: ``.venv/bin/python bench/asset_mint_throughput.py [--n 1000]
[--batch-size 256,100] [--rounds 2] [--no-encrypt] [--json]``. With ``--json``
stdout is one JSON line and the table goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
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
from web3 import Web3

from troika.assets import Assets, DatasetMetadata, DatasetProperties, MintProgress, MintRequest
from troika.chain import ArtifactStore, Chain, Keystore
from troika.did import Identity, ethr_did
from troika.did._identity import x25519_private_key
from troika.ipfs import CID, LocalStore, add

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests._services import Anvil, ServiceError  # noqa: E402

ARTIFACTS = ROOT / "tests" / "artifacts"
FILE_SIZE = 1024
RECEIPT_TIMEOUT = 60.0  # seconds, for every receipt wait on both sides
RPC_TIMEOUT = 30.0  # seconds, for one JSON-RPC request to anvil
FUNDING = 10**20  # wei to the encrypting owner (it pays nothing here; the minter does)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the chain ------------------------------------------------------------------


@contextlib.contextmanager
def anvil() -> Iterator[str]:
    """A fresh anvil on a free loopback port (tests/_services.py); always stopped.

    --prune-history: as in chain_send.py, so a long chain leaves no state files.
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


@contextlib.contextmanager
def connected() -> Iterator[tuple[str, Chain, Path]]:
    """A fresh anvil, troika's Chain on it (a fresh home: no recorded registry) and a tmp dir."""
    with (
        tempfile.TemporaryDirectory(prefix="troika-bench-") as tmp,
        anvil() as url,
        Chain.connect(
            url,
            home=Path(tmp) / "home",
            artifacts=ArtifactStore([ARTIFACTS]),
            timeout=RPC_TIMEOUT,
            receipt_timeout=RECEIPT_TIMEOUT,
        ) as chain,
    ):
        yield url, chain, Path(tmp)


# -- the datasets -----------------------------------------------------------------


def write_files(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"dataset-{i:05d}.bin"
        path.write_bytes(os.urandom(FILE_SIZE))
        paths.append(path)
    return paths


def metadata_of(i: int) -> DatasetMetadata:
    return DatasetMetadata(
        name=f"dataset {i}",
        description="1 KiB of random bytes (bench/asset_mint_throughput.py)",
        properties=DatasetProperties(media_type="application/octet-stream"),
    )


# -- measuring ------------------------------------------------------------------


@dataclass
class Run:
    """One workload, one round."""

    workload: str
    n: int
    pipeline_s: float
    chain_s: float
    txs: int
    gas_total: int
    stage_s: float | None = None  # troika: last "pin" progress event to the return
    metadata_cids: list[str] = field(default_factory=list)
    tx_s: list[float] = field(default_factory=list)  # OZ: each send + wait, in order

    @property
    def tokens_per_s(self) -> float:
        return self.n / self.pipeline_s

    @property
    def chain_tokens_per_s(self) -> float:
        return self.n / self.chain_s


def troika_mint(paths: list[Path], batch_size: int, encrypt: bool) -> Run:
    with connected() as (_url, chain, tmp):
        store = LocalStore(tmp / "ipfs")
        if encrypt:
            keystore = Keystore(tmp / "keys", scrypt_n=2**10)
            keystore.new("owner", "bench-password")
            signer = keystore.unlock("owner", "bench-password")
            chain.transfer(signer.address, FUNDING, sender=chain.default_sender)
            identity: Identity | None = Identity(
                name="owner",
                kind="person",
                did=ethr_did(signer.address, chain.chain_id),
                signer=signer,
                controller=None,
                capabilities=(),
                _x25519=x25519_private_key(signer),
            )
            assets = Assets(chain, store, identity=identity, minter=chain.default_sender)
        else:
            assets = Assets(chain, store, identity=None)
        registry = assets.registry  # deployed here, untimed
        # Time and gas of the registry calls mint_batch makes (instance wrappers).
        chain_time = [0.0]
        gas: list[int] = []
        real_mint, real_minted = registry.mint_batch, registry.minted_commitments

        def timed_mint(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            batch = real_mint(*args, **kwargs)
            chain_time[0] += time.perf_counter() - start
            gas.append(batch.gas_used)
            return batch

        def timed_minted(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            result = real_minted(*args, **kwargs)
            chain_time[0] += time.perf_counter() - start
            return result

        registry.mint_batch = timed_mint  # type: ignore[method-assign]
        registry.minted_commitments = timed_minted  # type: ignore[method-assign]
        last_pin = [0.0]

        def progress(event: MintProgress) -> None:
            if event.stage == "pin":
                last_pin[0] = time.perf_counter()

        requests_ = [
            MintRequest(path, metadata_of(i), encrypt=encrypt) for i, path in enumerate(paths)
        ]
        start = time.perf_counter()
        minted = assets.mint_batch(requests_, batch_size=batch_size, progress=progress)
        end = time.perf_counter()
        assert len({m.token_id for m in minted}) == len(paths)
        txs = {m.tx_hash for m in minted}
        assert len(txs) == len(gas), (len(txs), len(gas))
        label = f"troika batch {batch_size}" + (", encrypted" if encrypt else "")
        return Run(
            label,
            len(paths),
            end - start,
            chain_time[0],
            len(gas),
            sum(gas),
            stage_s=end - last_pin[0],
            metadata_cids=[str(m.metadata_cid) for m in minted],
        )


def oz_pin(paths: list[Path], store: LocalStore) -> list[str]:
    """The same IPFS work as troika's public mint; returns the tokens' URIs."""
    uris = []
    for i, path in enumerate(paths):
        data = path.read_bytes()
        checksum = hashlib.sha256(data).hexdigest()
        content = add(path, store=store)
        document = metadata_of(i).with_content(content, len(data), f"sha256:{checksum}").to_json()
        cid = CID.of(document)
        store.put(cid, document)
        store.pin(cid)
        uris.append(f"ipfs://{cid}")
    return uris


def oz_mint(paths: list[Path], client: str) -> Run:
    with connected() as (url, chain, tmp):
        store = LocalStore(tmp / "ipfs")
        to = chain.default_sender
        assert isinstance(to, str)
        contract = chain.deploy("UriStorageAssets", record=False)  # untimed
        gas: list[int] = []
        if client == "troika":

            def send(uri: str) -> None:
                gas.append(contract.transact("mintBatch", to, [uri], sender=to).gas_used)

            session = None
        else:
            session = requests.Session()
            w3 = Web3(
                Web3.HTTPProvider(url, request_kwargs={"timeout": RPC_TIMEOUT}, session=session)
            )
            abi = json.loads((ARTIFACTS / "UriStorageAssets.json").read_text("utf-8"))["abi"]
            peer = w3.eth.contract(address=contract.address, abi=abi)  # type: ignore[call-overload]
            sender = Web3.to_checksum_address(to)

            def send(uri: str) -> None:
                tx_hash = peer.functions.mintBatch(sender, [uri]).transact({"from": sender})
                receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT)
                if receipt["status"] != 1:
                    raise RuntimeError(f"web3 transaction {tx_hash.hex()} reverted")
                gas.append(int(receipt["gasUsed"]))

        try:
            start = time.perf_counter()
            uris = oz_pin(paths, store)
            pinned = time.perf_counter()
            tx_s = []
            for uri in uris:
                sent = time.perf_counter()
                send(uri)
                tx_s.append(time.perf_counter() - sent)
            end = time.perf_counter()
        finally:
            if session is not None:
                session.close()
        assert contract.call("tokenURI", len(uris)) == uris[-1]
        return Run(
            f"OZ 1/tx, {client}",
            len(paths),
            end - start,
            end - pinned,
            len(gas),
            sum(gas),
            metadata_cids=[uri.removeprefix("ipfs://") for uri in uris],
            tx_s=tx_s,
        )


# -- reporting ------------------------------------------------------------------


def median(runs: list[Run], attribute: str) -> float:
    return statistics.median(getattr(r, attribute) for r in runs)


def table(results: dict[str, list[Run]], peer: str, headline: str, n: int, rounds: int) -> str:
    header = (
        f"{'workload':<30} {'tok/s all':>9} {'tok/s chain':>11} {'txs':>5} "
        f"{'gas total':>11} {'gas/token':>9}"
    )
    lines = [
        f"mint throughput on anvil: {n} datasets of 1 KiB, median of {rounds} "
        "interleaved rounds (fresh anvil and store per workload)",
        header,
        "-" * len(header),
    ]
    for name, runs in results.items():
        gas = runs[0].gas_total
        lines.append(
            f"{name:<30} {median(runs, 'tokens_per_s'):9.1f} "
            f"{median(runs, 'chain_tokens_per_s'):11.1f} {runs[0].txs:5d} "
            f"{gas:11d} {gas / runs[0].n:9.0f}"
        )
    ours, theirs = results[headline], results[peer]
    per_round = [a.tokens_per_s / b.tokens_per_s for a, b in zip(ours, theirs, strict=True)]
    per_round_chain = [
        a.chain_tokens_per_s / b.chain_tokens_per_s for a, b in zip(ours, theirs, strict=True)
    ]
    lines += [
        f"peer = the faster OZ client: {peer}",
        f"ratio tokens/s, {headline} / {peer}: "
        f"all {median(ours, 'tokens_per_s') / median(theirs, 'tokens_per_s'):.1f}x "
        f"(rounds {min(per_round):.1f}-{max(per_round):.1f}), "
        f"chain {median(ours, 'chain_tokens_per_s') / median(theirs, 'chain_tokens_per_s'):.1f}x "
        f"(rounds {min(per_round_chain):.1f}-{max(per_round_chain):.1f}); "
        f"gas per token {ours[0].gas_total / theirs[0].gas_total:.3f}",
        "tok/s all = pin + metadata + mint; tok/s chain = troika: time inside the registry "
        "calls, OZ: the send loop",
    ]
    stages = [
        f"{name}: {median(runs, 'stage_s'):.2f} s"
        for name, runs in results.items()
        if runs[0].stage_s is not None
    ]
    lines.append("troika, last pin event to return: " + "; ".join(stages))
    per_tx = [
        f"{name}: {statistics.median(t for r in runs for t in r.tx_s[:100]) * 1e3:.1f} ms "
        f"(first 100), {statistics.median(t for r in runs for t in r.tx_s[-100:]) * 1e3:.1f} ms "
        "(last 100)"
        for name, runs in results.items()
        if runs[0].tx_s
    ]
    lines.append("OZ, median send + receipt per tx: " + "; ".join(per_tx))
    return "\n".join(lines)


def _sizes(value: str) -> list[int]:
    sizes = [int(v) for v in value.split(",") if v.strip()]
    if not sizes or any(not 1 <= s <= 1000 for s in sizes):
        raise argparse.ArgumentTypeError(f"batch sizes 1 to 1000, got {value!r}")
    return sizes


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value!r}")
    return number


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=_positive, default=1000, help="datasets (1000)")
    parser.add_argument(
        "--batch-size", type=_sizes, default=[256, 100], help="troika batch sizes (256,100)"
    )
    parser.add_argument("--rounds", type=_positive, default=2, help="interleaved rounds (2)")
    parser.add_argument(
        "--no-encrypt", action="store_true", help="skip the encrypted troika workload"
    )
    parser.add_argument("--json", action="store_true", help="one JSON line on stdout")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    workloads: list[tuple[str, Callable[[list[Path]], Run]]] = [
        (f"troika batch {b}", lambda p, b=b: troika_mint(p, b, False)) for b in args.batch_size
    ]
    if not args.no_encrypt:
        b = args.batch_size[0]
        workloads.append((f"troika batch {b}, encrypted", lambda p, b=b: troika_mint(p, b, True)))
    workloads += [
        ("OZ 1/tx, troika", lambda p: oz_mint(p, "troika")),
        ("OZ 1/tx, web3", lambda p: oz_mint(p, "web3")),
    ]
    started = time.perf_counter()
    results: dict[str, list[Run]] = {name: [] for name, _ in workloads}
    with tempfile.TemporaryDirectory(prefix="troika-bench-files-") as tmp:
        paths = write_files(Path(tmp), args.n)
        for round_index in range(args.rounds):
            order = workloads if round_index % 2 == 0 else workloads[::-1]
            for name, run in order:
                log(f"round {round_index + 1}: {name}")
                result = run(paths)
                results[name].append(result)
                log(
                    f"  {result.tokens_per_s:.1f} tokens/s, chain {result.chain_tokens_per_s:.1f}"
                    f" tokens/s, {result.txs} txs, {result.gas_total} gas"
                )
    elapsed = time.perf_counter() - started

    headline = f"troika batch {args.batch_size[0]}"
    # The same documents on both sides, so the same metadata CIDs and URIs.
    assert results[headline][0].metadata_cids == results["OZ 1/tx, troika"][0].metadata_cids
    for name, runs in results.items():  # gas is exact: every round the same
        if "encrypted" in name:
            continue  # new keys each round: other ciphertexts, commitments, calldata
        assert len({r.gas_total for r in runs}) == 1, (name, [r.gas_total for r in runs])
    peer = min(("OZ 1/tx, troika", "OZ 1/tx, web3"), key=lambda k: median(results[k], "chain_s"))
    report = table(results, peer, headline, args.n, args.rounds)
    if args.json:
        log(report)
        line = {
            "benchmark": "asset_mint_throughput",
            "n": args.n,
            "file_size": FILE_SIZE,
            "rounds": args.rounds,
            "peer": peer,
            "headline": headline,
            "elapsed_s": round(elapsed, 1),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "versions": {p: version(p) for p in ("troika-sdk", "web3")},
            "results": {
                name: {
                    "tokens_per_s": median(runs, "tokens_per_s"),
                    "chain_tokens_per_s": median(runs, "chain_tokens_per_s"),
                    "rounds_tokens_per_s": [r.tokens_per_s for r in runs],
                    "rounds_chain_tokens_per_s": [r.chain_tokens_per_s for r in runs],
                    "stage_s": [r.stage_s for r in runs] if runs[0].stage_s is not None else None,
                    "tx_ms_median_first_last_100": [
                        [
                            statistics.median(r.tx_s[:100]) * 1e3,
                            statistics.median(r.tx_s[-100:]) * 1e3,
                        ]
                        for r in runs
                    ]
                    if runs[0].tx_s
                    else None,
                    "txs": runs[0].txs,
                    "gas_total": runs[0].gas_total,
                    "gas_per_token": runs[0].gas_total / runs[0].n,
                }
                for name, runs in results.items()
            },
            "ratio_tokens_per_s": median(results[headline], "tokens_per_s")
            / median(results[peer], "tokens_per_s"),
            "ratio_chain_tokens_per_s": median(results[headline], "chain_tokens_per_s")
            / median(results[peer], "chain_tokens_per_s"),
        }
        print(json.dumps(line, separators=(",", ":")))
    else:
        print(report)
        print(f"({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
