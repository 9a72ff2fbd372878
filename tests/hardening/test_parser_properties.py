"""Hostile input to parsers that had no property tests, and what fuzzing found.

- dag-pb nodes and UnixFS ``Data`` messages: every node troika can encode
  decodes back to itself, and any bytes decode or raise ``ValueError`` (dag-pb
  only in its canonical form, so what decodes re-encodes to the same bytes).
- Job parameters (``JobSpec``, ``TrainParams``): valid ones round-trip through
  their JSON, and any JSON or bytes parse or raise ``InvalidJob``.
- Multibase: atheris found ``k-...`` (base36 with a sign) raising
  ``OverflowError`` out of ``CID.parse``; base36 and base16 now take their own
  alphabets only (not ``int()``'s or ``bytes.fromhex``'s: signs, ``_``,
  whitespace, non-ASCII digits).
- Deeply nested JSON: py-evm and py_ecc raise Python's recursion limit to
  100,000 when web3 loads, and past some 60,000 levels ``json``'s C decoder
  then overflows the C stack: 70 kB of ``[`` in asset metadata, a did:ethr
  service endpoint, a job's spec or parameters or a model archive's spec
  crashed the process with SIGSEGV. Each parser runs in a child process that
  has imported web3 first, as a node's or a service's has.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from troika import InvalidCID, InvalidJob
from troika.compute import TrainParams
from troika.compute._node import JobSpec
from troika.ipfs import CID
from troika.ipfs._dagpb import (
    PBLink,
    PBNode,
    UnixFSData,
    UnixFSType,
    decode_node,
    encode_node,
)
from troika.ipfs._multiformats import multibase_decode, multibase_encode

cids = st.binary(max_size=64).map(CID.of) | st.binary(max_size=64).map(
    lambda data: CID.of(data, "dag-pb", version=0)
)
sizes = st.integers(min_value=0, max_value=2**63 - 1)
links = st.builds(PBLink, cids, st.none() | st.text(max_size=20), st.none() | sizes)
nodes = st.builds(
    PBNode, st.none() | st.binary(max_size=64), st.lists(links, max_size=5).map(tuple)
)
unixfs = st.builds(
    UnixFSData,
    st.sampled_from(UnixFSType),
    st.none() | st.binary(max_size=64),
    st.none() | sizes,
    st.lists(sizes, max_size=5).map(tuple),
    st.none() | sizes,
    st.none() | sizes,
)


@given(nodes)
def test_every_dagpb_node_round_trips(node: PBNode) -> None:
    assert decode_node(encode_node(node)) == node


@given(st.binary(max_size=300) | nodes.map(encode_node).map(lambda b: b[: len(b) // 2]))
def test_any_bytes_decode_canonically_or_raise_value_error(raw: bytes) -> None:
    try:
        node = decode_node(raw)
    except ValueError:
        return
    assert encode_node(node) == raw


@given(unixfs)
def test_every_unixfs_data_round_trips(data: UnixFSData) -> None:
    assert UnixFSData.decode(data.encode()) == data


@given(st.binary(max_size=300))
def test_any_bytes_are_unixfs_data_or_a_value_error(raw: bytes) -> None:
    with contextlib.suppress(ValueError):
        UnixFSData.decode(raw)


train_params = st.builds(
    TrainParams,
    rounds=st.integers(1, 100),
    local_epochs=st.integers(1, 20),
    learning_rate=st.floats(1e-6, 10),
    batch_size=st.none() | st.integers(1, 10_000),
    secure=st.booleans(),
    num_shares=st.integers(3, 10),
    reconstruction_threshold=st.just(2),
    seed=st.integers(0, 2**32),
)


@given(train_params)
def test_train_params_round_trip_through_their_json(params: TrainParams) -> None:
    assert TrainParams.from_json(params.to_json()) == params


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)
train_keys = st.sampled_from(sorted(json.loads(TrainParams().to_json())))


@given(st.dictionaries(train_keys, json_values) | json_values)
def test_any_json_is_train_params_or_invalid_job(value: object) -> None:
    with contextlib.suppress(InvalidJob):
        TrainParams.from_json(json.dumps(value))


spec_keys = st.sampled_from(["version", "kind", "params", "requester", "label"])


@given(
    st.binary(max_size=200)
    | st.dictionaries(spec_keys, json_values | st.sampled_from([1, "stats", "evaluate"])).map(
        lambda d: json.dumps(d).encode()
    )
)
def test_any_bytes_are_a_job_spec_or_invalid_job(raw: bytes) -> None:
    try:
        spec = JobSpec.from_json(raw)
    except InvalidJob:
        return
    assert JobSpec.from_json(spec.to_json()) == spec


@pytest.mark.parametrize(
    "text", ["k-1", "k+1", "k1_0", "k 1", "k\u0661", "f01 55", "f0155\n", "F-1", "K_0"]
)
def test_base36_and_base16_take_their_alphabets_only(text: str) -> None:
    with pytest.raises(ValueError, match="malformed base"):
        multibase_decode(text)
    with pytest.raises(InvalidCID) as caught:
        CID.parse(text)
    assert repr(text) in str(caught.value)


@given(st.binary(max_size=40), st.sampled_from(["base16", "base36", "base58btc"]))
def test_base16_36_and_58_decode_only_their_canonical_text(data: bytes, base: str) -> None:
    text = multibase_encode(data, base)
    assert multibase_decode(text) == (base, data)
    assert multibase_decode(text.upper() if base != "base58btc" else text)[1] == data


DEEP = 70_000  # levels: past what json's C decoder survives under py-evm's recursion limit


def run_with_web3_loaded(code: str) -> subprocess.CompletedProcess[str]:
    program = "import web3, sys\nassert sys.getrecursionlimit() >= 100_000\n" + code
    return subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


CALLS = {
    "metadata": ("from troika.assets import parse_metadata", "parse_metadata(deep.encode())"),
    "ethr service endpoint": ("from troika.did._ethr import _endpoint", "_endpoint(deep)"),
    "JobSpec": ("from troika.compute._node import JobSpec", "JobSpec.from_json(deep.encode())"),
    "TrainParams": ("from troika.compute import TrainParams", "TrainParams.from_json(deep)"),
    "StatsQuery": ("from troika.compute import StatsQuery", "StatsQuery.from_json(deep)"),
    "model archive": (
        "import io, numpy as np\nfrom troika.compute._models import model_from_bytes",
        "buffer = io.BytesIO(); np.savez(buffer, spec=np.frombuffer(deep.encode(), np.uint8)); "
        "model_from_bytes(buffer.getvalue())",
    ),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_deeply_nested_json_is_refused_not_a_crash(name: str) -> None:
    setup, call = CALLS[name]
    code = "\n".join(
        [
            setup,
            f'deep = "[" * {DEEP}',
            "try:",
            f"    {call}",
            "except ValueError as exc:  # InvalidMetadata, InvalidJob: ValueErrors",
            "    print('refused', type(exc).__name__)",
            "else:",
            "    print('accepted')",
        ]
    )
    done = run_with_web3_loaded(code)
    assert done.returncode == 0, done.stderr[-500:]
    # A service endpoint that is not JSON is kept as text (DID Core allows a string).
    assert done.stdout.split()[0] == ("accepted" if name == "ethr service endpoint" else "refused")
