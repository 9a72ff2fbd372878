"""The fuzz targets of ``tools/fuzz.py``, on their seed corpus and a few thousand mutations.

The coverage-guided run (atheris, minutes per target) is ``tools/fuzz.sh``, not
part of the suite. Here each target runs on its seeds, which troika's own
writers made and its parsers must accept (the exporter refuses the folder as
NotAFile), and on seeded random mutations of them (bytes replaced, inserted,
deleted, truncated), which must each be accepted or refused with the
documented error: any other exception fails the test.
"""

from __future__ import annotations

import random

import pytest

from tests._report import record
from tests.hardening._fuzz_targets import TARGETS, seeds

MUTATIONS = 2000


def mutate(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        if out and choice < 0.5:
            out[rng.randrange(len(out))] = rng.randrange(256)
        elif choice < 0.75:
            out.insert(rng.randrange(len(out) + 1), rng.randrange(256))
        elif out and choice < 0.9:
            del out[rng.randrange(len(out))]
        else:
            out = out[: rng.randrange(len(out) + 1)]
    return bytes(out)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_seeds_are_accepted_and_mutations_end_in_the_documented_error(name: str) -> None:
    target = TARGETS[name]
    corpus = seeds(name)
    outcome, detail = "failed", "an input escaped its documented error"
    try:
        accepted = [target(seed) for seed in corpus]
        if name == "unixfs_export":  # the folder is not a file
            assert accepted.count(False) == 1
        else:
            assert all(accepted)
        rng = random.Random(name)
        refused = sum(not target(mutate(rng, rng.choice(corpus))) for _ in range(MUTATIONS))
        assert refused > 0  # the mutations reach the error paths, not only the happy one
        outcome = "survived"
        detail = (
            f"{len(corpus)} seeds and {MUTATIONS} random mutations, {refused} refused as documented"
        )
    finally:  # a failure is recorded too, not left out of the report
        record(
            "fuzz",
            name,
            outcome,
            detail,
            parser=target.parser,
            inputs=len(corpus) + MUTATIONS,
            engine="random mutation (test suite)",
        )
