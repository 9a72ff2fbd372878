"""Gas of troika's AssetRegistry next to OpenZeppelin's ERC721URIStorage.

Both mint the same tokens: N = 1, 10 and 100 per transaction, each token with
its own metadata (AssetRegistry: the 32-byte sha2-256 commitment, from which
``tokenURI`` computes the ``ipfs://bafkrei...`` URI on chain; the peer,
tests/artifacts/UriStorageAssets.json, compiled by the same solc: ``_mint``
and ``_setTokenURI`` with that same URI stored as a string). Each N mints on
fresh deployments of both, on one embedded chain, to an account that holds
no token yet. Then, for the last token of a 100-token batch: ``ownerOf`` and
``transferFrom`` (to an account that already holds a token, and to one that
holds none), each sent as a transaction, so the figure is exact and includes
the 21,000 gas every transaction pays. Gas is exact: one run is the whole
measurement.

Run: python bench/asset_registry_gas.py [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from eth_account import Account

from troika.chain import ArtifactStore, Chain, Contract
from troika.ipfs import CID

ROOT = Path(__file__).resolve().parents[1]
SIZES = (1, 10, 100)
DATASET = 0
# the goals (gas per token at N = 100, and per operation on the last token)
GOALS = {"mint per token, N = 100": 12_000, "ownerOf": 30_000, "transferFrom": 65_000}


def documents(n: int, batch: int) -> list[bytes]:
    return [f'{{"name": "dataset {batch}-{i}", "size": {i}}}'.encode() for i in range(n)]


def mint(side: str, contract: Contract, to: str, docs: list[bytes], sender: str) -> int:
    if side == "troika":
        digests = [hashlib.sha256(doc).digest() for doc in docs]
        receipt = contract.transact("mintBatch", to, DATASET, 250, [], digests, sender=sender)
    else:
        uris = [f"ipfs://{CID.of(doc)}" for doc in docs]
        receipt = contract.transact("mintBatch", to, uris, sender=sender)
    return receipt.gas_used


def deploy(chain: Chain, side: str) -> Contract:
    if side == "troika":
        return chain.deploy("AssetRegistry", chain.accounts[0], record=False)
    return chain.deploy("UriStorageAssets", record=False)


def measure() -> dict[str, dict[str, int]]:
    chain = Chain.embedded(artifacts=ArtifactStore([ROOT / "tests" / "artifacts"]))
    admin, holder, minter_to = chain.accounts[0], chain.accounts[1], chain.accounts[2]
    results: dict[str, dict[str, int]] = {"troika": {}, "openzeppelin": {}}
    for side, figures in results.items():
        for n in SIZES:
            contract = deploy(chain, side)
            figures[f"mint N = {n}, per token"] = (
                mint(side, contract, minter_to, documents(n, n), admin) // n
            )
        # the last token of a 100-token batch, after another batch to `holder`
        contract = deploy(chain, side)
        mint(side, contract, holder, documents(1, 0), admin)
        mint(side, contract, minter_to, documents(100, 1), admin)
        last = 101
        check = contract.call("tokenURI", last)
        assert check == f"ipfs://{CID.of(documents(100, 1)[-1])}", check
        figures["ownerOf (last of 100)"] = contract.transact(
            "ownerOf", last, sender=admin, gas=100_000
        ).gas_used
        figures["transferFrom (last of 100) to a holder"] = contract.transact(
            "transferFrom", minter_to, holder, last, sender=minter_to
        ).gas_used
        figures["transferFrom (99th of 100) to a new account"] = contract.transact(
            "transferFrom", minter_to, Account.create().address, last - 1, sender=minter_to
        ).gas_used
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON line on stdout")
    options = parser.parse_args()
    results = measure()
    ours, theirs = results["troika"], results["openzeppelin"]
    out = sys.stderr if options.json else sys.stdout
    print(f"{'gas':44} {'troika':>8} {'OZ URIStorage':>14} {'ratio':>6}", file=out)
    for label in ours:
        mine, ref = ours[label], theirs[label]
        print(f"{label:44} {mine:8d} {ref:14d} {mine / ref:6.3f}", file=out)
    checks = {
        "mint per token, N = 100": ours["mint N = 100, per token"],
        "ownerOf": ours["ownerOf (last of 100)"],
        "transferFrom": ours["transferFrom (last of 100) to a holder"],
    }
    verdict = ", ".join(
        f"{goal} {value} <= {GOALS[goal]}: {'met' if value <= GOALS[goal] else 'MISSED'}"
        for goal, value in checks.items()
    )
    print(f"goals: {verdict}", file=out)
    if options.json:
        print(json.dumps({"gas": results, "goals": {k: v <= GOALS[k] for k, v in checks.items()}}))


if __name__ == "__main__":
    main()
