"""Sign-In with Ethereum (EIP-4361): the EIP's example message as the vector,
every failure's own error, the DID binding (did:pkh, did:ethr with an owner
change on the embedded EVM), and hypothesis on the parser."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from eth_account import Account
from hypothesis import given
from hypothesis import strategies as st

from troika import (
    InvalidSIWEMessage,
    SIWEChainMismatch,
    SIWEDIDMismatch,
    SIWEDomainMismatch,
    SIWEError,
    SIWEExpired,
    SIWENonceMismatch,
    SIWENotYetValid,
    SIWESignatureError,
)
from troika.chain import Chain, Signer
from troika.did import EthrRegistry, EthrResolver, Resolver, SIWEMessage, siwe_nonce, verify_siwe

# EIP-4361's example message, as the EIP shows it.
EIP_EXAMPLE = """example.com wants you to sign in with your Ethereum account:
0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2

I accept the ExampleOrg Terms of Service: https://example.com/tos

URI: https://example.com/login
Version: 1
Chain ID: 1
Nonce: 32891756
Issued At: 2021-09-30T16:25:24Z
Resources:
- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/
- https://example.com/my-web2-claim.json"""

ALICE = Account.from_key(b"\x11" * 32)
MALLORY = Account.from_key(b"\x22" * 32)


def test_the_eips_example_message() -> None:
    message = SIWEMessage.parse(EIP_EXAMPLE)
    assert message == SIWEMessage(
        domain="example.com",
        address="0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2",
        statement="I accept the ExampleOrg Terms of Service: https://example.com/tos",
        uri="https://example.com/login",
        version="1",
        chain_id=1,
        nonce="32891756",
        issued_at="2021-09-30T16:25:24Z",
        resources=(
            "ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/",
            "https://example.com/my-web2-claim.json",
        ),
    )
    assert str(message) == EIP_EXAMPLE
    assert str(message.did) == "did:pkh:eip155:1:0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"


def test_the_eips_scheme_port_and_optional_fields() -> None:
    with_scheme = EIP_EXAMPLE.replace("example.com wants", "https://example.com:3388 wants", 1)
    message = SIWEMessage.parse(with_scheme)
    assert (message.scheme, message.domain) == ("https", "example.com:3388")
    assert str(message) == with_scheme
    full = EIP_EXAMPLE.replace(
        "Issued At: 2021-09-30T16:25:24Z",
        "Issued At: 2021-09-30T16:25:24.000+02:00\nExpiration Time: 2021-10-01T00:00:00Z\n"
        "Not Before: 2021-09-30T00:00:00Z\nRequest ID: req-1%20x",
    )
    parsed = SIWEMessage.parse(full)
    assert (parsed.expiration_time, parsed.not_before, parsed.request_id) == (
        "2021-10-01T00:00:00Z",
        "2021-09-30T00:00:00Z",
        "req-1%20x",
    )
    assert str(parsed) == full


def test_without_a_statement_both_forms_parse() -> None:
    abnf = EIP_EXAMPLE.replace(
        "I accept the ExampleOrg Terms of Service: https://example.com/tos\n", ""
    )
    wallets = abnf.replace("\n\n\nURI:", "\n\nURI:")
    assert SIWEMessage.parse(abnf) == SIWEMessage.parse(wallets)
    assert SIWEMessage.parse(abnf).statement is None
    assert str(SIWEMessage.parse(wallets)) == abnf


@pytest.mark.parametrize(
    ("old", "new", "line"),
    [
        ("example.com wants", "example.com  wants", 1),
        ("wants you to sign in", "wants you to log in", 1),
        (
            "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2",
            "0xc02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2",
            2,
        ),
        ("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2", "0x1234", 2),
        ("Cc2\n\n", "Cc2\nx\n", 3),
        ("tos\n\nURI", "tos\nURI", 5),
        ("URI: https://example.com/login", "URI: not a uri", 6),
        ("Version: 1", "Version: 2", 7),
        ("Chain ID: 1", "Chain ID: one", 8),
        ("Chain ID: 1", "Chain ID: 0", 8),
        ("Nonce: 32891756", "Nonce: 1234567", 9),
        ("Nonce: 32891756", "Nonce: 1234567!", 9),
        ("Issued At: 2021-09-30T16:25:24Z", "Issued At: yesterday", 10),
        ("Issued At: 2021-09-30T16:25:24Z", "Issued At: 2021-09-30 16:25:24", 10),
        ("Resources:", "Resource:", 11),
        ("- https://example.com/my-web2-claim.json", "* https://x", 13),
        ("- https://example.com/my-web2-claim.json", "- not a uri", 14),
    ],
)
def test_each_deviation_from_the_abnf_is_invalid_with_its_line(
    old: str, new: str, line: int
) -> None:
    text = EIP_EXAMPLE.replace(old, new, 1)
    assert text != EIP_EXAMPLE
    with pytest.raises(InvalidSIWEMessage) as caught:
        SIWEMessage.parse(text)
    assert caught.value.line == line, str(caught.value)
    assert caught.value.text == text
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, SIWEError)


def test_a_truncated_message_and_non_text() -> None:
    with pytest.raises(InvalidSIWEMessage, match="ends too soon"):
        SIWEMessage.parse(EIP_EXAMPLE.split("\nNonce")[0])
    with pytest.raises(InvalidSIWEMessage):
        SIWEMessage.parse(b"bytes")  # type: ignore[arg-type]


def message(**changes: Any) -> SIWEMessage:
    base = SIWEMessage.create(
        "dapp.example",
        ALICE.address,
        "https://dapp.example/login",
        1,
        statement="Sign in to the dapp",
        nonce="n0nce12345",
        issued_at="2026-01-01T00:00:00Z",
        expiration_time="2026-01-02T00:00:00Z",
        not_before="2026-01-01T00:00:00Z",
    )
    return replace(base, **changes)


NOON = datetime(2026, 1, 1, 12, tzinfo=UTC)


def test_verify_returns_the_signers_did_pkh() -> None:
    signed = message()
    signature = signed.sign(ALICE.key)
    did = verify_siwe(
        str(signed), signature, domain="dapp.example", nonce="n0nce12345", chain_id=1, now=NOON
    )
    assert str(did) == f"did:pkh:eip155:1:{ALICE.address}"
    assert verify_siwe(signed, bytes.fromhex(signature[2:]), now=NOON) == did


@pytest.mark.parametrize(
    ("options", "error", "attributes"),
    [
        ({"domain": "evil.example"}, SIWEDomainMismatch, {"expected": "evil.example"}),
        ({"nonce": "other12345"}, SIWENonceMismatch, {"actual": "n0nce12345"}),
        ({"chain_id": 137}, SIWEChainMismatch, {"expected": 137, "actual": 1}),
        (
            {"now": datetime(2026, 1, 2, tzinfo=UTC)},
            SIWEExpired,
            {"expiration_time": "2026-01-02T00:00:00Z"},
        ),
        (
            {"now": datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)},
            SIWENotYetValid,
            {"not_before": "2026-01-01T00:00:00Z"},
        ),
    ],
)
def test_each_failure_has_its_error(
    options: dict[str, Any], error: type[SIWEError], attributes: dict[str, Any]
) -> None:
    signed = message()
    with pytest.raises(error) as caught:
        verify_siwe(signed, signed.sign(ALICE.key), **{"now": NOON, **options})
    assert type(caught.value) is error
    assert caught.value.message == signed
    for name, value in attributes.items():
        assert getattr(caught.value, name) == value


def test_signatures_that_do_not_prove_the_address() -> None:
    signed = message()
    with pytest.raises(SIWESignatureError) as caught:
        verify_siwe(signed, signed.sign(MALLORY.key), now=NOON)
    assert (caught.value.address, caught.value.recovered) == (ALICE.address, MALLORY.address)
    tampered = replace(signed, statement="Give Mallory everything")
    with pytest.raises(SIWESignatureError):
        verify_siwe(tampered, signed.sign(ALICE.key), now=NOON)
    for bad in ("0x1234", "zz" * 65, b"\x00" * 65, "0x" + "ff" * 65):
        with pytest.raises(SIWESignatureError) as caught:
            verify_siwe(signed, bad, now=NOON)
        assert caught.value.recovered in (None, ALICE.address) or caught.value.recovered


def test_the_did_binding_to_did_pkh_and_did_ethr() -> None:
    signed = message()
    signature = signed.sign(ALICE.key)

    def check(did: str, **options: Any) -> Any:
        return verify_siwe(signed, signature, did=did, now=NOON, **options)

    check(f"did:pkh:eip155:1:{ALICE.address.lower()}")
    check(f"did:ethr:{ALICE.address}")
    check(f"did:ethr:0x1:{ALICE.address}")
    for did in (
        f"did:pkh:eip155:137:{ALICE.address}",
        f"did:pkh:eip155:1:{MALLORY.address}",
        f"did:ethr:{MALLORY.address}",
        f"did:ethr:0x89:{ALICE.address}",
        "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        "not a did",
    ):
        with pytest.raises(SIWEDIDMismatch) as caught:
            check(did)
        assert caught.value.address == ALICE.address


def test_a_did_ethr_whose_owner_changed_signs_in_with_the_new_owner() -> None:
    chain = Chain.embedded()
    registry = EthrRegistry.deploy(chain)
    identity = Signer(MALLORY)
    chain.transfer(identity.address, 10**18)
    registry.change_owner(identity.address, ALICE.address, sender=identity)
    resolver = Resolver()
    resolver.register("ethr", EthrResolver({"dev": chain}))
    did = f"did:ethr:dev:{identity.address}"
    by_owner = SIWEMessage.create("a.example", ALICE.address, "https://a.example", 1)
    assert verify_siwe(by_owner, by_owner.sign(ALICE.key), did=did, resolver=resolver) == (
        by_owner.did
    )
    by_identity = SIWEMessage.create("a.example", MALLORY.address, "https://a.example", 1)
    with pytest.raises(SIWEDIDMismatch, match="does not list it"):
        verify_siwe(by_identity, by_identity.sign(MALLORY.key), did=did, resolver=resolver)


def test_nonces() -> None:
    nonces = {siwe_nonce() for _ in range(100)}
    assert len(nonces) == 100
    assert all(len(n) == 17 and n.isalnum() for n in nonces)


# -- hypothesis on the parser ---------------------------------------------------------------

printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=40)
alnum = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))
uris = st.builds(lambda path: f"https://a.example/{path}", alnum)
times = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2999, 1, 1), timezones=st.just(UTC)
).map(lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
messages = st.builds(
    SIWEMessage,
    domain=st.sampled_from(["a.example", "localhost:3000", "127.0.0.1:8080", "x.y.z"]),
    address=st.sampled_from([ALICE.address, MALLORY.address]),
    uri=uris,
    chain_id=st.integers(1, 2**64),
    nonce=alnum.filter(lambda n: len(n) >= 8),
    issued_at=times,
    statement=st.none() | printable,
    expiration_time=st.none() | times,
    not_before=st.none() | times,
    request_id=st.none() | alnum,
    resources=st.lists(uris, max_size=3).map(tuple),
    scheme=st.none() | st.sampled_from(["https", "http", "wss"]),
)


@given(messages)
def test_every_message_round_trips(value: SIWEMessage) -> None:
    assert SIWEMessage.parse(str(value)) == value


@given(st.text(max_size=300) | messages.map(str).map(lambda t: t[: len(t) // 2]))
def test_any_text_parses_or_raises_invalid_siwe_message(text: str) -> None:
    try:
        parsed: SIWEMessage | None = SIWEMessage.parse(text)
    except InvalidSIWEMessage as exc:
        parsed, line = None, exc.line
    if parsed is None:
        assert 1 <= line <= text.count("\n") + 2
    else:
        assert SIWEMessage.parse(str(parsed)) == parsed
