"""``troika did resolve``, run as a user runs it: a real process, a real anvil.

Expected documents come from the methods' published vectors (did:key,
did:pkh) and from the reference resolver (npm ethr-did-resolver) on the same
anvil (did:ethr), never from troika itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests._services import Anvil
from tests.cli.test_cli import one_line_error, run
from tests.did.test_conformance import assert_conformant
from tests.did.test_ethr import reference

from troika.chain import Chain
from troika.did import EthrRegistry, ResolutionResult

VECTORS = Path(__file__).parents[1] / "did" / "vectors"
RESOLUTION_KEYS = ["@context", "didDocument", "didResolutionMetadata", "didDocumentMetadata"]


def resolved(*args: str, home: Path, code: int = 0) -> dict[str, Any]:
    done = run("did", "resolve", *args, home=home)
    assert done.returncode == code, done.stderr
    assert done.stderr == ""
    result: dict[str, Any] = json.loads(done.stdout)
    assert list(result) == RESOLUTION_KEYS
    return result


def test_a_did_key_prints_the_whole_result(tmp_path: Path) -> None:
    vectors = json.loads((VECTORS / "did-key" / "ed25519-x25519.json").read_text())
    did, vector = next(iter(vectors.items()))
    result = resolved(did, home=tmp_path)
    assert result["didResolutionMetadata"] == {"contentType": "application/did+ld+json"}
    document = result["didDocument"]
    assert document["id"] == did
    ids = [method["id"] for method in document["verificationMethod"]]
    assert ids == [
        did + vector["verificationKeyPair"]["id"],
        did + vector["keyAgreementKeyPair"]["id"],
    ]
    assert_conformant(ResolutionResult.model_validate(result), did)


def test_a_did_pkh_is_the_vectors_document(tmp_path: Path) -> None:
    path = next(VECTORS.glob("did-pkh/eip155-1-*.jsonld"))
    expected = json.loads(path.read_text())
    result = resolved(expected["id"], "--no-cache", home=tmp_path)
    assert result["didDocument"] == expected


def test_a_did_ethr_on_anvil_is_the_references_document(anvil: Anvil, tmp_path: Path) -> None:
    chain = Chain.connect(anvil.url, home=tmp_path)  # records the registry in the CLI's home
    registry = EthrRegistry.deploy(chain)
    me = chain.accounts[3]
    registry.set_attribute(
        me, "did/svc/HubService", b"https://hub.example", 86_400 * 365, sender=me
    )
    did = f"did:ethr:{hex(anvil.chain_id)}:{me}"
    result = resolved(did, "--rpc", anvil.url, home=tmp_path)
    peer = reference(anvil, registry.address, [did])[0]
    assert result["didDocument"] == peer["didDocument"]
    assert result["didDocumentMetadata"]["versionId"] == peer["didDocumentMetadata"]["versionId"]
    assert_conformant(ResolutionResult.model_validate(result), did)


@pytest.mark.parametrize(
    ("did_url", "error"),
    [
        ("did:nope", "invalidDid"),
        ("not a did", "invalidDid"),
        ("did:example:123", "methodNotSupported"),
        ("did:ethr:0x7a69:0xf3beac30c498d9e26865f34fcaa57dbb935b0d74", "unknownNetwork"),
        ("did:web:127.0.0.1", "invalidDid"),
    ],
)
def test_a_failed_resolution_prints_its_result_and_exits_1(
    tmp_path: Path, did_url: str, error: str
) -> None:
    result = resolved(did_url, home=tmp_path, code=1)
    assert result["didDocument"] is None
    assert result["didResolutionMetadata"]["error"] == error
    assert result["didResolutionMetadata"]["errorMessage"]


def test_the_help_says_a_failure_exits_1(tmp_path: Path) -> None:
    done = run("did", "resolve", "--help", home=tmp_path)
    assert done.returncode == 0
    assert "exits with status 1" in " ".join(done.stdout.split())


def test_a_bad_rpc_url_is_one_line_on_stderr(tmp_path: Path) -> None:
    done = run("did", "resolve", "did:key:z6Mk", "--rpc", "ftp://node", home=tmp_path)
    assert "rpc_url='ftp://node'" in one_line_error(done)


def test_a_node_that_is_down_is_an_internal_error(tmp_path: Path) -> None:
    did = "did:ethr:0x7a69:0xf3beac30c498d9e26865f34fcaa57dbb935b0d74"
    result = resolved(did, "--rpc", "http://127.0.0.1:9", home=tmp_path, code=1)
    assert result["didResolutionMetadata"]["error"] == "internalError"
