"""Gas of troika's ERC-1056 registry next to the reference one (npm ethr-did-registry).

Gas is exact, so one run on the embedded EVM is the whole measurement: each
operation runs once on each registry from the same state, and the table shows
both figures and their ratio (below 1: troika's is cheaper).

Run: python bench/did_registry_gas.py [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from eth_account import Account

from troika.chain import Artifact, Chain, Contract

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = (
    ROOT
    / "contracts/node_modules/ethr-did-registry/artifacts/contracts"
    / "EthereumDIDRegistry.sol/EthereumDIDRegistry.json"
)
DAY = 86_400


def reference() -> Artifact:
    return replace(Artifact.from_file(REFERENCE), name="Reference")


def b32(text: str) -> bytes:
    return text.encode().ljust(32, b"\0")


def measure(chain: Chain, registry: Contract) -> dict[str, int]:
    owner, delegate, new_owner = chain.accounts[0], chain.accounts[1], Account.create().address
    steps = [
        ("addDelegate", (owner, b32("veriKey"), delegate, DAY)),
        ("revokeDelegate", (owner, b32("veriKey"), delegate)),
        (
            "setAttribute (32-byte value)",
            (owner, b32("did/pub/Ed25519/veriKey/hex"), b"\x01" * 32, DAY),
        ),
        ("revokeAttribute", (owner, b32("did/pub/Ed25519/veriKey/hex"), b"\x01" * 32)),
        ("changeOwner", (owner, new_owner)),
    ]
    gas = {}
    for label, args in steps:
        gas[label] = registry.transact(label.split(" ")[0], *args, sender=owner).gas_used
    return gas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON line on stdout")
    options = parser.parse_args()
    # Each registry on a fresh chain, so both start from the same state.
    results = {}
    for label, artifact in (("ours", "EthereumDIDRegistry"), ("reference", reference())):
        chain = Chain.embedded()
        registry = chain.deploy(artifact, record=False)
        results[label] = (measure(chain, registry), len(chain.code(registry.address)))
    (ours, ours_code), (theirs, their_code) = results["ours"], results["reference"]
    deploy = {"ours": ours_code, "reference": their_code}
    rows = [(label, ours[label], theirs[label]) for label in ours]
    out = sys.stderr if options.json else sys.stdout
    print(f"{'operation':32} {'troika':>8} {'reference':>10} {'ratio':>6}", file=out)
    for label, mine, ref in rows:
        print(f"{label:32} {mine:8d} {ref:10d} {mine / ref:6.3f}", file=out)
    print(
        f"{'runtime code (bytes)':32} {deploy['ours']:8d} {deploy['reference']:10d} "
        f"{deploy['ours'] / deploy['reference']:6.3f}",
        file=out,
    )
    if options.json:
        print(
            json.dumps(
                {"gas": {k: {"troika": m, "reference": r} for k, m, r in rows}, "code": deploy}
            )
        )


if __name__ == "__main__":
    main()
