"""did:key against the did:key specification's test vectors and peer implementations."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import coincurve
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from hypothesis import given, settings
from hypothesis import strategies as st

from troika import InvalidDID, InvalidPublicKey
from troika.did import DIDKey, KeyPair, KeyType, ed25519_to_x25519
from troika.ipfs._multiformats import base58btc_decode, base58btc_encode, varint

VECTORS = Path(__file__).parent / "vectors" / "did-key"
ED25519 = json.loads((VECTORS / "ed25519-x25519.json").read_text())
SECP256K1 = json.loads((VECTORS / "secp256k1.json").read_text())
X25519 = json.loads((VECTORS / "x25519.json").read_text())["didDocument"]
NIST = json.loads((VECTORS / "nist-curves.json").read_text())
P256 = {did: v for did, v in NIST.items() if v["publicKey"]["publicKeyJwk"]["crv"] == "P-256"}

# The did:key v0.7 specification's own example: an Ed25519 did:key and the
# X25519 key-agreement key it shows derived from it.
SPEC_EXAMPLE = (
    "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
    "z6LSj72tK8brWgZja8NLRwPigth2T9QRiG1uH9oKZuKjdh9p",
)


def b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def multibase_of(codec: int, raw: bytes) -> str:
    return "did:key:z" + base58btc_encode(varint(codec) + raw)


# -- the vectors -------------------------------------------------------------------


@pytest.mark.parametrize(("did", "vector"), ED25519.items(), ids=list(ED25519))
def test_ed25519_vectors(did: str, vector: dict[str, Any]) -> None:
    pair = KeyPair.from_private_key("Ed25519", bytes.fromhex(vector["seed"]))
    assert str(pair.did) == did
    key = DIDKey.parse(did)
    assert key.public_key == base58btc_decode(vector["verificationKeyPair"]["publicKeyBase58"])
    document = key.document("Ed25519VerificationKey2018")
    assert document.to_dict() == vector["didDocument"]


@pytest.mark.parametrize(("did", "vector"), ED25519.items(), ids=list(ED25519))
def test_ed25519_derives_the_vectors_x25519_key_pair(did: str, vector: dict[str, Any]) -> None:
    agreement = vector["keyAgreementKeyPair"]
    key = DIDKey.parse(did).key_agreement_key()
    assert key is not None
    assert "#" + key.multibase == agreement["id"]
    assert key.public_key == base58btc_decode(agreement["publicKeyBase58"])
    pair = KeyPair.from_private_key("Ed25519", bytes.fromhex(vector["seed"]))
    assert pair.key_agreement_private_key() == base58btc_decode(agreement["privateKeyBase58"])


def test_the_spec_examples_derived_x25519_key() -> None:
    did, derived = SPEC_EXAMPLE
    key = DIDKey.parse(did)
    assert DIDKey("X25519", ed25519_to_x25519(key.public_key)).multibase == derived
    keys = key.document().methods_for("keyAgreement")
    assert [(m.id, m.public_key_multibase) for m in keys] == [(f"{did}#{derived}", derived)]


@pytest.mark.parametrize(("did", "vector"), SECP256K1.items(), ids=list(SECP256K1))
def test_secp256k1_vectors(did: str, vector: dict[str, Any]) -> None:
    seed = bytes.fromhex(vector["seed"])
    assert seed == base58btc_decode(vector["verificationKeyPair"]["privateKeyBase58"])
    assert str(KeyPair.from_private_key("secp256k1", seed).did) == did
    key = DIDKey.parse(did)
    assert key.public_key == base58btc_decode(vector["verificationKeyPair"]["publicKeyBase58"])
    assert key.document("EcdsaSecp256k1VerificationKey2019").to_dict() == vector["didDocument"]


@pytest.mark.parametrize(("did", "document"), X25519.items(), ids=list(X25519))
def test_x25519_vectors(did: str, document: dict[str, Any]) -> None:
    key = DIDKey.parse(did)
    assert key.key_type == "X25519"
    assert key.key_agreement_key() == key
    assert key.document("X25519KeyAgreementKey2019").to_dict() == document


@pytest.mark.parametrize(("did", "vector"), P256.items(), ids=list(P256))
def test_p256_vectors(did: str, vector: dict[str, Any]) -> None:
    jwk = vector["publicKey"]["publicKeyJwk"]
    private = b64url(vector["publicKey"]["privateKeyJwk"]["d"])
    assert str(KeyPair.from_private_key("P-256", private).did) == did
    key = DIDKey.parse(did)
    assert key.jwk().to_dict() == jwk
    (method,) = key.document("JsonWebKey2020").verification_method or ()
    assert method.to_dict() == {
        "id": did + vector["publicKey"]["id"],
        "type": "JsonWebKey2020",
        "controller": did,
        "publicKeyJwk": jwk,
    }


@pytest.mark.parametrize("did", [d for d in NIST if d not in P256])
def test_p384_and_p521_are_reported_unsupported(did: str) -> None:
    with pytest.raises(InvalidPublicKey) as caught:
        DIDKey.parse(did)
    assert caught.value.error == "unsupportedPublicKeyType"
    assert caught.value.did == did


# -- the document formats (the Document Creation Algorithm, with vector keys) ---------


def test_the_default_multikey_document() -> None:
    did = "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"  # ED25519 vector, seed 0
    sign = f"{did}#z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"
    agree = f"{did}#z6LShs9GGnqk85isEBzzshkuVWrVKsRp24GnDuHk8QWkARMW"
    assert DIDKey.parse(did).document().to_dict() == {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
        "verificationMethod": [
            {
                "id": sign,
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": "z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp",
            },
            {
                "id": agree,
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": "z6LShs9GGnqk85isEBzzshkuVWrVKsRp24GnDuHk8QWkARMW",
            },
        ],
        "authentication": [sign],
        "assertionMethod": [sign],
        "keyAgreement": [agree],
        "capabilityInvocation": [sign],
        "capabilityDelegation": [sign],
    }


def test_the_2020_suites_document() -> None:
    did, derived = SPEC_EXAMPLE
    document = DIDKey.parse(did).document("Ed25519VerificationKey2020").to_dict()
    assert document["@context"] == [
        "https://www.w3.org/ns/did/v1",
        "https://w3id.org/security/suites/ed25519-2020/v1",
        "https://w3id.org/security/suites/x25519-2020/v1",
    ]
    assert [(m["type"], m["publicKeyMultibase"]) for m in document["verificationMethod"]] == [
        ("Ed25519VerificationKey2020", did.removeprefix("did:key:")),
        ("X25519KeyAgreementKey2020", derived),
    ]


def test_json_web_key_2020_for_every_key_type() -> None:
    ed_did = "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"
    ed_public = base58btc_decode("4zvwRjXUKGfvwnParsHAS3HuSVzV5cA4McphgmoCtajS")
    document = DIDKey.parse(ed_did).document("JsonWebKey2020").to_dict()
    assert document["@context"] == [
        "https://www.w3.org/ns/did/v1",
        "https://w3id.org/security/suites/jws-2020/v1",
    ]
    ed_jwk = document["verificationMethod"][0]["publicKeyJwk"]
    assert ed_jwk == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": base64.urlsafe_b64encode(ed_public).decode().rstrip("="),
    }
    secp_did = next(iter(SECP256K1))
    point = coincurve.PublicKey(DIDKey.parse(secp_did).public_key).format(compressed=False)
    secp_jwk = DIDKey.parse(secp_did).jwk().to_dict()
    assert (secp_jwk["kty"], secp_jwk["crv"]) == ("EC", "secp256k1")
    assert b64url(secp_jwk["x"]) + b64url(secp_jwk["y"]) == point[1:]


def test_encryption_key_derivation_can_be_turned_off() -> None:
    did = SPEC_EXAMPLE[0]
    document = DIDKey.parse(did).document(enable_encryption_key_derivation=False)
    assert document.key_agreement is None
    assert len(document.verification_method or ()) == 1


def test_ec_keys_have_no_key_agreement_in_multikey_documents() -> None:
    for did in (next(iter(SECP256K1)), next(iter(P256))):
        document = DIDKey.parse(did).document()
        assert document.key_agreement is None
        assert DIDKey.parse(did).key_agreement_key() is None


# -- bad input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "did",
    [
        "did:key:6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",  # no multibase prefix
        "did:key:mAbCd",  # base64, not base58btc
        "did:key:z0OIl",  # not base58
        "did:key:z",  # no codec
        "did:web:example.com",  # another method
    ],
)
def test_not_a_did_key_is_an_invalid_did(did: str) -> None:
    with pytest.raises(InvalidDID) as caught:
        DIDKey.parse(did)
    assert caught.value.error == "invalidDid"
    assert not isinstance(caught.value, InvalidPublicKey)


def test_a_key_of_the_wrong_length() -> None:
    with pytest.raises(InvalidPublicKey) as caught:
        DIDKey.parse(multibase_of(0xED, bytes(31)))
    assert caught.value.error == "invalidPublicKeyLength"


def test_an_unknown_codec() -> None:
    with pytest.raises(InvalidPublicKey) as caught:
        DIDKey.parse(multibase_of(0x55, bytes(32)))
    assert caught.value.error == "unsupportedPublicKeyType"


@pytest.mark.parametrize(
    ("key_type", "raw", "why"),
    [
        # RFC 8032 §5.1.3: y must be below p = 2^255 - 19
        ("Ed25519", (2**255 - 19).to_bytes(32, "little"), "not reduced"),
        ("Ed25519", (1).to_bytes(32, "little"), "identity"),  # y = 1: the neutral point
        ("P-256", b"\x04" + bytes(32), "compressed"),
        ("secp256k1", b"\x02" + bytes(32), "valid"),  # x = 0: 7 is not a square mod p
    ],
)
def test_a_key_that_is_not_a_curve_point(key_type: KeyType, raw: bytes, why: str) -> None:
    with pytest.raises(InvalidPublicKey, match=why) as caught:
        DIDKey(key_type, raw)
    assert caught.value.error == "invalidPublicKey"


def test_an_ed25519_y_without_an_x_is_refused() -> None:
    not_points = [y for y in range(2, 40) if not _is_ed25519_point(y)]
    assert not_points
    for y in not_points:
        with pytest.raises(InvalidPublicKey, match="not a point"):
            DIDKey("Ed25519", y.to_bytes(32, "little"))
    for y in set(range(2, 40)) - set(not_points):
        assert DIDKey("Ed25519", y.to_bytes(32, "little")).key_type == "Ed25519"


def _is_ed25519_point(y: int) -> bool:
    # -x^2 + y^2 = 1 + d x^2 y^2 has a solution x iff (y^2-1)/(d y^2+1) is a square mod p
    p = 2**255 - 19
    d = -121665 * pow(121666, -1, p) % p
    u = (y * y - 1) * pow(d * y * y + 1, -1, p) % p
    return u == 0 or pow(u, (p - 1) // 2, p) == 1


@pytest.mark.parametrize(
    ("public_key_format", "error"),
    [("EcdsaSecp256k1VerificationKey2019", "invalidPublicKeyType"), ("Bogus2099", "unsupported")],
)
def test_a_format_the_key_cannot_use(public_key_format: str, error: str) -> None:
    with pytest.raises(InvalidPublicKey) as caught:
        DIDKey.parse(SPEC_EXAMPLE[0]).document(public_key_format)
    assert caught.value.error.startswith(error)


# -- new key pairs, checked by peers -------------------------------------------------


@pytest.mark.parametrize(
    ("key_type", "prefix"),
    [("Ed25519", "z6Mk"), ("secp256k1", "zQ3s"), ("P-256", "zDn"), ("X25519", "z6LS")],
)
def test_generated_key_pairs(key_type: KeyType, prefix: str) -> None:
    pair = KeyPair.generate(key_type)
    assert pair.public.multibase.startswith(prefix)
    assert DIDKey.parse(str(pair.did)) == pair.public
    assert pair.private_key.hex() not in repr(pair)
    message = b"troika"
    public = pair.public.public_key
    if key_type == "Ed25519":
        signature = ed25519.Ed25519PrivateKey.from_private_bytes(pair.private_key).sign(message)
        ed25519.Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    elif key_type == "secp256k1":
        assert coincurve.PrivateKey(pair.private_key).public_key.format() == public
    elif key_type == "P-256":
        secret = ec.derive_private_key(int.from_bytes(pair.private_key, "big"), ec.SECP256R1())
        signature = secret.sign(message, ec.ECDSA(_sha256()))
        peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public)
        peer.verify(signature, message, ec.ECDSA(_sha256()))
    else:
        peer_public = x25519.X25519PrivateKey.from_private_bytes(pair.private_key).public_key()
        assert peer_public.public_bytes_raw() == public


def _sha256() -> Any:
    from cryptography.hazmat.primitives.hashes import SHA256

    return SHA256()


@settings(max_examples=50)
@given(seed=st.binary(min_size=32, max_size=32))
def test_the_birational_map_agrees_with_x25519_scalar_multiplication(seed: bytes) -> None:
    # Two roads to the same X25519 public key: map the Ed25519 point to the
    # Montgomery curve (troika), or multiply the base point by the same scalar
    # (cryptography's X25519).
    pair = KeyPair.from_private_key("Ed25519", seed)
    agreement = pair.public.key_agreement_key()
    secret = pair.key_agreement_private_key()
    assert agreement is not None
    assert secret is not None
    peer = x25519.X25519PrivateKey.from_private_bytes(secret).public_key().public_bytes_raw()
    assert agreement.public_key == peer


def test_private_keys_are_checked_and_never_shown() -> None:
    with pytest.raises(ValueError, match="32 bytes") as caught:
        KeyPair.from_private_key("Ed25519", b"\x01" * 31)
    assert "0101" not in str(caught.value)
    with pytest.raises(ValueError, match="out of range") as caught:
        KeyPair.from_private_key("secp256k1", b"\xff" * 32)
    assert "ffff" not in str(caught.value)
