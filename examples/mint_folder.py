"""Mint a folder of datasets from a script: one batched mint, with progress.

Every CSV file in a folder becomes a dataset NFT owned by one identity. The
files are pinned (encrypted to the owner's DID key) and their metadata written,
every pin is confirmed, and then the tokens are minted in as few ``mintBatch``
transactions as ``--batch-size`` allows.

Run: python examples/mint_folder.py [--home DIR] [--count N] [--batch-size N]
(without ``--home`` it runs in a temporary directory on the embedded defaults).
"""

from __future__ import annotations

import argparse
import csv
import random
import tempfile
from pathlib import Path

from troika import Troika
from troika.assets import DatasetMetadata, DatasetProperties, MintProgress, MintRequest


def write_folder(folder: Path, count: int) -> list[Path]:
    """Stand-ins for a lab's exports: small CSV files of sensor readings."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)  # noqa: S311 - sample data, not a secret
    paths = []
    for i in range(count):
        path = folder / f"station-{i:03d}.csv"
        with path.open("w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(["hour", "temperature", "humidity"])
            writer.writerows(
                [h, round(rng.gauss(15, 5), 2), rng.randint(30, 90)] for h in range(24)
            )
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="the troika home (a temporary one if unset)")
    parser.add_argument("--count", type=int, default=12, help="datasets to mint")
    parser.add_argument("--batch-size", type=int, default=5, help="tokens per transaction")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        home = args.home or Path(scratch)
        run(home, args.count, args.batch_size)


def run(home: Path, count: int, batch_size: int) -> None:
    files = write_folder(home / "exports", count)
    with Troika.embedded(home, scrypt_n=2**10) as troika:  # throwaway keys: light scrypt
        owner = troika.identities.create("weather-lab", "not a real password", kind="person")
        print(f"owner {owner.did}")

        requests = [
            MintRequest(
                path,
                DatasetMetadata(
                    name=f"weather {path.stem}",
                    description="hourly readings of one station",
                    properties=DatasetProperties(media_type="text/csv", rows=24),
                ),
            )
            for path in files
        ]

        pinned: set[int] = set()

        def progress(event: MintProgress) -> None:
            if event.stage == "pin" and event.index not in pinned:
                pinned.add(event.index)  # the first report of each file; more follow per chunk
                print(f"pinning {event.index + 1}/{event.count} {Path(event.path or '').name}")
            elif event.stage == "mint":
                print(f"minted batch {event.index + 1}/{event.count}")

        minted = troika.assets(owner).mint_batch(requests, batch_size=batch_size, progress=progress)

        transactions = {m.tx_hash for m in minted}
        print(f"{len(minted)} datasets in {len(transactions)} transactions")
        for asset in minted[:3]:
            print(
                f"#{asset.token_id} {asset.content_cid} encrypted={asset.envelope_cid is not None}"
            )
        owned = troika.assets(owner).assets_of(owner)
        print(f"{owner.name} owns {len(owned)} tokens")


if __name__ == "__main__":
    main()
