"""Private content: the segmented AES-256-GCM format, HPKE-wrapped keys, DID key lookup.

Expected values come from the format's layout recomputed here with the
one-shot AESGCM, from pyhpke (a second RFC 9180 implementation), and from the
did:key specification's vectors; never from the code under test.
"""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
import os
import stat
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pyhpke import AEADId, CipherSuite, KDFId, KEMId, KEMKey

from troika._errors import DecryptionError, InvalidAssetArgument, NoKeyAgreementKey, NotEntitled
from troika.assets._crypto import (
    CIPHER,
    DEFAULT_SEGMENT_SIZE,
    HPKE_SUITE,
    EncryptingReader,
    Envelope,
    WrappedKey,
    ciphertext_size,
    decrypt_bytes,
    decrypt_stream,
    decrypt_to,
    encrypt_bytes,
    key_agreement_key,
    new_content_key,
)
from troika.did import DIDDocument, DIDKey, pkh_document
from troika.ipfs._multiformats import base58btc_decode

VECTORS = Path(__file__).parents[1] / "did" / "vectors" / "did-key"
ED25519 = json.loads((VECTORS / "ed25519-x25519.json").read_text())
SECP256K1 = json.loads((VECTORS / "secp256k1.json").read_text())

# The format, as documented: header = "TRKE" || 0x01 || segment size (u32 BE) ||
# 7-byte nonce prefix; nonce = prefix || index (u32 BE) || last flag; AAD = header.
HEADER = 16
TAG = 16
SEG = 64  # a small segment size keeps the tests fast
INFO_LABEL = b"troika/assets/content-key/v1"
KEY = bytes(range(32))
PEER = CipherSuite.new(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.AES256_GCM)


def raw_public(private: X25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def frames(ciphertext: bytes) -> tuple[bytes, list[bytes]]:
    """The header and the segments, cut by the documented layout."""
    header = ciphertext[:HEADER]
    (segment_size,) = struct.unpack(">I", header[5:9])
    body, size = ciphertext[HEADER:], segment_size + TAG
    return header, [body[i : i + size] for i in range(0, len(body), size)]


def expected_segments(plaintext: bytes, segment_size: int) -> int:
    return max(1, -(-len(plaintext) // segment_size))


# -- round trips ---------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, SEG - 1, SEG, SEG + 1, 3 * SEG + 5])
def test_round_trip(size: int) -> None:
    plaintext = os.urandom(size)
    ciphertext = encrypt_bytes(plaintext, KEY, segment_size=SEG)
    assert len(ciphertext) == HEADER + size + TAG * expected_segments(plaintext, SEG)
    assert len(ciphertext) == ciphertext_size(size, SEG)
    assert decrypt_bytes(ciphertext, KEY) == plaintext
    assert b"".join(decrypt_stream(iter([ciphertext]), KEY)) == plaintext
    one_byte_at_a_time = (ciphertext[i : i + 1] for i in range(len(ciphertext)))
    assert b"".join(decrypt_stream(one_byte_at_a_time, KEY)) == plaintext


def test_the_default_segment_size() -> None:
    assert DEFAULT_SEGMENT_SIZE == 1 << 20
    plaintext = os.urandom(DEFAULT_SEGMENT_SIZE + 1)
    ciphertext = encrypt_bytes(plaintext, KEY)
    assert len(ciphertext) == HEADER + len(plaintext) + 2 * TAG
    blocks = [ciphertext[i : i + 262144] for i in range(0, len(ciphertext), 262144)]
    assert [len(piece) for piece in decrypt_stream(blocks, KEY)] == [DEFAULT_SEGMENT_SIZE, 1]


def test_segments_are_released_one_at_a_time() -> None:
    plaintext = os.urandom(3 * SEG + 5)
    pieces = list(decrypt_stream([encrypt_bytes(plaintext, KEY, segment_size=SEG)], KEY))
    assert [len(piece) for piece in pieces] == [SEG, SEG, SEG, 5]


@given(
    plaintext=st.binary(max_size=2000),
    segment_size=st.integers(1, 300),
    cuts=st.lists(st.integers(0, 3000), max_size=20),
)
@settings(max_examples=150, deadline=None)
def test_any_plaintext_segment_size_and_chunking_round_trips(
    plaintext: bytes, segment_size: int, cuts: list[int]
) -> None:
    ciphertext = encrypt_bytes(plaintext, KEY, segment_size=segment_size)
    assert len(ciphertext) == ciphertext_size(len(plaintext), segment_size)
    edges = sorted({0, len(ciphertext), *(cut % (len(ciphertext) + 1) for cut in cuts)})
    chunks = [ciphertext[a:b] for a, b in itertools.pairwise(edges)]
    assert b"".join(decrypt_stream(chunks, KEY)) == plaintext


# -- the format, recomputed with the one-shot AES-GCM ----------------------------------


def test_segments_match_one_shot_aes_gcm_with_the_documented_nonce_and_aad() -> None:
    plaintext = os.urandom(2 * SEG + 7)
    ciphertext = encrypt_bytes(plaintext, KEY, segment_size=SEG)
    header, segments = frames(ciphertext)
    assert header[:4] == b"TRKE"
    assert header[4] == 1
    assert struct.unpack(">I", header[5:9]) == (SEG,)
    prefix = header[9:16]
    aes = AESGCM(KEY)
    pieces = [plaintext[:SEG], plaintext[SEG : 2 * SEG], plaintext[2 * SEG :]]
    for index, (segment, piece) in enumerate(zip(segments, pieces, strict=True)):
        last = b"\x01" if index == 2 else b"\x00"
        nonce = prefix + index.to_bytes(4, "big") + last
        assert segment == aes.encrypt(nonce, piece, header)


def test_the_empty_plaintext_is_one_empty_last_segment() -> None:
    ciphertext = encrypt_bytes(b"", KEY, segment_size=SEG)
    header, segments = frames(ciphertext)
    nonce = header[9:16] + bytes(4) + b"\x01"
    assert segments == [AESGCM(KEY).encrypt(nonce, b"", header)]


def test_a_peer_encrypted_stream_decrypts() -> None:
    """A stream built here by the documented layout decrypts: the format is the spec."""
    header = b"TRKE" + b"\x01" + struct.pack(">I", 5) + b"prefix7"
    aes = AESGCM(KEY)
    body = aes.encrypt(b"prefix7" + bytes(4) + b"\x00", b"hello", header)
    body += aes.encrypt(b"prefix7" + (1).to_bytes(4, "big") + b"\x01", b" you", header)
    assert decrypt_bytes(header + body, KEY) == b"hello you"


def test_two_encryptions_differ() -> None:
    assert encrypt_bytes(b"same", KEY) != encrypt_bytes(b"same", KEY)


# -- tampering --------------------------------------------------------------------------

ciphertexts = st.builds(
    lambda plaintext, segment_size: encrypt_bytes(plaintext, KEY, segment_size=segment_size),
    st.binary(max_size=600),
    st.integers(1, 100),
)


def fails(ciphertext: bytes, key: bytes = KEY) -> DecryptionError:
    with pytest.raises(DecryptionError) as caught:
        b"".join(decrypt_stream([ciphertext], key))
    return caught.value


@given(ciphertext=ciphertexts, data=st.data())
@settings(max_examples=200, deadline=None)
def test_any_byte_flip_fails(ciphertext: bytes, data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(ciphertext) - 1))
    mask = data.draw(st.integers(1, 255))
    tampered = bytearray(ciphertext)
    tampered[position] ^= mask
    fails(bytes(tampered))


@given(ciphertext=ciphertexts, data=st.data())
@settings(max_examples=200, deadline=None)
def test_any_truncation_fails(ciphertext: bytes, data: st.DataObject) -> None:
    fails(ciphertext[: data.draw(st.integers(0, len(ciphertext) - 1))])


@given(
    plaintext=st.binary(min_size=2, max_size=400),
    segment_size=st.integers(1, 50),
    data=st.data(),
)
@settings(max_examples=200, deadline=None)
def test_any_reordering_dropping_or_appending_of_segments_fails(
    plaintext: bytes, segment_size: int, data: st.DataObject
) -> None:
    assume(len(plaintext) > segment_size)  # two segments or more
    header, segments = frames(encrypt_bytes(plaintext, KEY, segment_size=segment_size))
    order = data.draw(st.permutations(range(len(segments))))
    if order != list(range(len(segments))):
        fails(header + b"".join(segments[i] for i in order))
    dropped = data.draw(st.integers(0, len(segments) - 1))
    fails(header + b"".join(s for i, s in enumerate(segments) if i != dropped))
    extra = data.draw(st.sampled_from(segments))
    fails(header + b"".join(segments) + extra)
    fails(header + b"".join(segments) + data.draw(st.binary(min_size=1, max_size=80)))


def test_segments_of_another_stream_under_the_same_key_fail() -> None:
    first = frames(encrypt_bytes(os.urandom(3 * SEG), KEY, segment_size=SEG))
    second = frames(encrypt_bytes(os.urandom(3 * SEG), KEY, segment_size=SEG))
    fails(first[0] + first[1][0] + second[1][1] + first[1][2])
    fails(second[0] + b"".join(first[1]))


def test_a_wrong_key_fails() -> None:
    ciphertext = encrypt_bytes(b"secret rows", KEY, segment_size=SEG)
    error = fails(ciphertext, new_content_key())
    assert "does not authenticate" in error.reason


@pytest.mark.parametrize(
    ("ciphertext", "reason"),
    [
        (b"", "truncated: the input ended inside the 16-byte header (0 bytes)"),
        (
            b"NOPE" + bytes(28),
            "not troika encrypted content: it starts with b'NOPE', not b'TRKE'",
        ),
        (
            b"TRKE\x02" + bytes(27),
            "format version 2 is not supported (this troika reads 1)",
        ),
        (
            b"TRKE\x01" + struct.pack(">I", 0) + bytes(23),
            "the header declares segments of 0 bytes; at most 67108864 are allowed",
        ),
        (
            b"TRKE\x01" + struct.pack(">I", 64) + bytes(7) + bytes(15),
            "truncated: the input ended 15 bytes into a segment, shorter than its 16-byte tag",
        ),
    ],
)
def test_malformed_headers_say_why(ciphertext: bytes, reason: str) -> None:
    assert fails(ciphertext).reason == reason


def test_an_empty_last_segment_after_full_ones_is_refused() -> None:
    header = b"TRKE\x01" + struct.pack(">I", 4) + b"prefix7"
    aes = AESGCM(KEY)
    body = aes.encrypt(b"prefix7" + bytes(4) + b"\x00", b"full", header)
    body += aes.encrypt(b"prefix7" + (1).to_bytes(4, "big") + b"\x01", b"", header)
    assert "empty last segment" in fails(header + body).reason


def test_no_plaintext_is_released_from_a_failing_segment() -> None:
    ciphertext = bytearray(encrypt_bytes(bytes(3 * SEG), KEY, segment_size=SEG))
    ciphertext[HEADER + (SEG + TAG) + 3] ^= 1  # inside segment 1
    plaintext = decrypt_stream([bytes(ciphertext)], KEY)
    assert next(plaintext) == bytes(SEG)  # segment 0 authenticated
    with pytest.raises(DecryptionError, match="segment 1 does not authenticate"):
        next(plaintext)


# -- EncryptingReader -----------------------------------------------------------------


class Trickle(io.RawIOBase):
    """A source that returns at most 3 bytes a read, like a pipe might."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        piece = self._data.read(min(3, len(buffer)))
        buffer[: len(piece)] = piece
        return len(piece)


@pytest.mark.parametrize("size", [0, 1, SEG - 1, SEG, SEG + 1, 3 * SEG + 5])
def test_the_reader_streams_the_ciphertext_and_the_plaintext_checksum(size: int) -> None:
    plaintext = os.urandom(size)
    reader = EncryptingReader(Trickle(plaintext), KEY, segment_size=SEG)  # type: ignore[arg-type]
    assert reader.readable()
    pieces = []
    while piece := reader.read(7):
        pieces.append(piece)
    ciphertext = b"".join(pieces)
    assert len(ciphertext) == ciphertext_size(size, SEG)
    assert decrypt_bytes(ciphertext, KEY) == plaintext
    assert reader.plaintext_size == size
    assert reader.sha256 == hashlib.sha256(plaintext).hexdigest()
    assert reader.read() == b""


def test_the_reader_fills_buffers() -> None:
    plaintext = os.urandom(5 * SEG)
    reader = EncryptingReader(io.BytesIO(plaintext), KEY, segment_size=SEG)
    out, buffer = bytearray(), bytearray(100)
    while count := reader.readinto(buffer):
        out += buffer[:count]
    assert decrypt_bytes(bytes(out), KEY) == plaintext


def test_the_reader_feeds_the_ipfs_importer() -> None:
    from troika.ipfs import cid_of, import_stream

    plaintext = os.urandom(3 * SEG)
    reader = EncryptingReader(io.BytesIO(plaintext), KEY, segment_size=SEG)
    blocks = list(import_stream(reader, profile="v1-2025", chunk_size=50))
    ciphertext = b"".join(block.data for block in blocks if block.cid.codec == "raw")
    assert decrypt_bytes(ciphertext, KEY) == plaintext
    assert blocks[-1].cid == cid_of(ciphertext, profile="v1-2025", chunk_size=50)


def test_a_closed_reader_refuses_to_read() -> None:
    reader = EncryptingReader(io.BytesIO(b"x"), KEY)
    reader.close()
    with pytest.raises(ValueError, match="closed"):
        reader.read(1)


@pytest.mark.parametrize("key", [b"", bytes(31), bytes(33), "k" * 32])
def test_a_content_key_is_32_bytes_and_is_never_quoted(key: Any) -> None:
    with pytest.raises(InvalidAssetArgument) as caught:
        EncryptingReader(io.BytesIO(b""), key)
    assert caught.value.name == "key"
    assert "k" * 32 not in str(caught.value)
    with pytest.raises(InvalidAssetArgument):
        decrypt_stream([], key)


@pytest.mark.parametrize("segment_size", [0, -1, (1 << 26) + 1, True, 1.5])
def test_segment_sizes_out_of_range(segment_size: Any) -> None:
    with pytest.raises(InvalidAssetArgument) as caught:
        encrypt_bytes(b"", KEY, segment_size=segment_size)
    assert caught.value.name == "segment_size"


def test_ciphertext_size() -> None:
    assert ciphertext_size(0) == HEADER + TAG
    assert ciphertext_size(1 << 30) == HEADER + (1 << 30) + 1024 * TAG
    assert ciphertext_size((1 << 30) + 1) == HEADER + (1 << 30) + 1 + 1025 * TAG
    with pytest.raises(InvalidAssetArgument):
        ciphertext_size(-1)


def test_new_content_keys_are_random() -> None:
    keys = {new_content_key() for _ in range(100)}
    assert len(keys) == 100
    assert {len(key) for key in keys} == {32}


# -- decrypt_to -----------------------------------------------------------------------


@pytest.fixture
def no_umask() -> Iterator[None]:
    old = os.umask(0)  # a file readable by others would show it
    yield
    os.umask(old)


@pytest.mark.usefixtures("no_umask")
def test_decrypt_to_writes_a_private_file(tmp_path: Path) -> None:
    plaintext = os.urandom(3 * SEG + 5)
    ciphertext = encrypt_bytes(plaintext, KEY, segment_size=SEG)
    chunks = (ciphertext[i : i + 10] for i in range(0, len(ciphertext), 10))
    out = decrypt_to(chunks, KEY, tmp_path / "model.bin")
    assert out == tmp_path / "model.bin"
    assert out.read_bytes() == plaintext
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert sorted(tmp_path.iterdir()) == [out]


@pytest.mark.usefixtures("no_umask")
def test_decrypt_to_replaces_a_file_and_makes_it_private(tmp_path: Path) -> None:
    target = tmp_path / "model.bin"
    target.write_bytes(b"old")
    target.chmod(0o644)
    decrypt_to([encrypt_bytes(b"new", KEY)], KEY, target)
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


@pytest.mark.parametrize("damage", ["flip", "truncate", "key"])
def test_decrypt_to_leaves_nothing_on_failure(tmp_path: Path, damage: str) -> None:
    ciphertext = bytearray(encrypt_bytes(os.urandom(3 * SEG + 5), KEY, segment_size=SEG))
    key = KEY
    if damage == "flip":
        ciphertext[-1] ^= 1
    elif damage == "truncate":
        del ciphertext[-(SEG // 2) :]
    else:
        key = new_content_key()
    with pytest.raises(DecryptionError):
        decrypt_to([bytes(ciphertext)], key, tmp_path / "model.bin")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "model.bin").write_bytes(b"kept")
    with pytest.raises(DecryptionError):
        decrypt_to([bytes(ciphertext)], key, tmp_path / "model.bin")
    assert [p.name for p in tmp_path.iterdir()] == ["model.bin"]
    assert (tmp_path / "model.bin").read_bytes() == b"kept"


# -- HPKE: interoperability with pyhpke ------------------------------------------------


def info(kid: str) -> bytes:
    return INFO_LABEL + b"\x00" + kid.encode()


def test_a_key_wrapped_by_troika_opens_with_pyhpke() -> None:
    recipient = X25519PrivateKey.generate()
    kid = "did:key:z6LSexample#z6LSexample"
    envelope = Envelope.seal(KEY, [(kid, raw_public(recipient))])
    sealed = unb64url(envelope.recipients[0].enc)
    assert len(sealed) == 32 + 32 + 16  # enc, then the sealed key and its tag
    context = PEER.create_recipient_context(
        sealed[:32], KEMKey.from_pyca_cryptography_key(recipient), info=info(kid)
    )
    assert context.open(sealed[32:]) == KEY


def test_a_key_wrapped_by_pyhpke_opens_with_troika() -> None:
    recipient = X25519PrivateKey.generate()
    kid = "did:ethr:0x1:0x00000000000000000000000000000000000000aa#delegate-1"
    enc, context = PEER.create_sender_context(
        KEMKey.from_pyca_cryptography_key(recipient.public_key()), info=info(kid)
    )
    entry = WrappedKey(kid=kid, enc=b64url(enc + context.seal(KEY)))
    assert Envelope(recipients=(entry,)).open(recipient, kid) == KEY
    assert Envelope(recipients=(entry,)).open(recipient) == KEY


def test_a_wrapped_key_is_bound_to_its_kid() -> None:
    recipient = X25519PrivateKey.generate()
    envelope = Envelope.seal(KEY, [("did:key:z6LSa#a", raw_public(recipient))])
    moved = WrappedKey(kid="did:key:z6LSb#b", enc=envelope.recipients[0].enc)
    with pytest.raises(DecryptionError):
        Envelope(recipients=(moved,)).open(recipient, "did:key:z6LSb#b")


# -- Envelope ----------------------------------------------------------------------------


@pytest.fixture
def parties() -> dict[str, X25519PrivateKey]:
    return {
        "did:key:z6LSalice#z6LSalice": X25519PrivateKey.generate(),
        "did:ethr:0x1:0x00000000000000000000000000000000000000bb#delegate-1": (
            X25519PrivateKey.generate()
        ),
        "did:web:lab.example#x25519": X25519PrivateKey.generate(),
    }


def test_every_recipient_opens(parties: dict[str, X25519PrivateKey]) -> None:
    envelope = Envelope.seal(KEY, [(kid, raw_public(key)) for kid, key in parties.items()])
    assert envelope.kids == tuple(sorted(parties))
    assert (envelope.version, envelope.cipher, envelope.hpke) == (1, CIPHER, HPKE_SUITE)
    assert HPKE_SUITE == "DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM"
    for kid, private in parties.items():
        assert envelope.open(private, kid) == KEY
        assert envelope.open(private) == KEY


def test_a_stranger_is_not_entitled(parties: dict[str, X25519PrivateKey]) -> None:
    envelope = Envelope.seal(KEY, [(kid, raw_public(key)) for kid, key in parties.items()])
    stranger = X25519PrivateKey.generate()
    with pytest.raises(NotEntitled) as caught:
        envelope.open(stranger)
    assert caught.value.token_id is None
    expected = DIDKey("X25519", raw_public(stranger))
    assert caught.value.did == str(expected)
    with pytest.raises(NotEntitled) as by_kid:
        envelope.open(stranger, "did:key:z6LSstranger#z6LSstranger")
    assert by_kid.value.did == "did:key:z6LSstranger#z6LSstranger"


def test_the_wrong_private_key_for_an_entry_fails(parties: dict[str, X25519PrivateKey]) -> None:
    envelope = Envelope.seal(KEY, [(kid, raw_public(key)) for kid, key in parties.items()])
    with pytest.raises(DecryptionError, match="does not open with this private key"):
        envelope.open(X25519PrivateKey.generate(), "did:web:lab.example#x25519")


@given(data=st.data())
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_tampered_enc_fails(data: st.DataObject) -> None:
    recipient = X25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
    kid = "did:key:z6LSalice#z6LSalice"
    entry = Envelope.seal(KEY, [(kid, raw_public(recipient))]).recipients[0]
    sealed = bytearray(unb64url(entry.enc))
    position = data.draw(st.integers(0, len(sealed) - 1))
    sealed[position] ^= data.draw(st.integers(1, 255))
    tampered = Envelope(recipients=(WrappedKey(kid=kid, enc=b64url(bytes(sealed))),))
    with pytest.raises(DecryptionError):
        tampered.open(recipient, kid)
    with pytest.raises(NotEntitled):
        tampered.open(recipient)


@pytest.mark.parametrize("enc", ["", "AAAA", b64url(bytes(81)), b64url(bytes(79))])
def test_an_enc_of_the_wrong_size_fails(enc: str) -> None:
    kid = "did:key:z6LSalice#z6LSalice"
    if not enc:
        with pytest.raises(DecryptionError, match=r"malformed envelope: recipients\.0\.enc"):
            Envelope.from_json(json.dumps({"version": 1, "recipients": [{"kid": kid, "enc": ""}]}))
        return
    with pytest.raises(DecryptionError):
        Envelope(recipients=(WrappedKey(kid=kid, enc=enc),)).open(X25519PrivateKey.generate(), kid)


def test_with_recipient_adds_a_licensee(parties: dict[str, X25519PrivateKey]) -> None:
    (owner_kid, owner), *_ = parties.items()
    envelope = Envelope.seal(KEY, [(owner_kid, raw_public(owner))])
    licensee = X25519PrivateKey.generate()
    licensee_kid = "did:pkh:eip155:1:0x00000000000000000000000000000000000000cc#x25519"
    content_key = envelope.open(owner, owner_kid)  # the owner unwraps its own entry first
    licensed = envelope.with_recipient(content_key, licensee_kid, raw_public(licensee))
    assert licensed.kids == tuple(sorted([owner_kid, licensee_kid]))
    assert licensed.open(licensee, licensee_kid) == KEY
    assert licensed.open(owner, owner_kid) == KEY
    assert envelope.kids == (owner_kid,)  # unchanged
    with pytest.raises(NotEntitled):
        envelope.open(licensee)
    # a new key for the same kid replaces the entry
    rotated = X25519PrivateKey.generate()
    again = licensed.with_recipient(KEY, licensee_kid, raw_public(rotated))
    assert again.kids == licensed.kids
    assert again.open(rotated, licensee_kid) == KEY
    with pytest.raises(DecryptionError):
        again.open(licensee, licensee_kid)


def test_duplicate_kids_collapse() -> None:
    first, second = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    kid = "did:key:z6LSalice#z6LSalice"
    envelope = Envelope.seal(KEY, [(kid, raw_public(first)), (kid, raw_public(second))])
    assert envelope.kids == (kid,)
    assert envelope.open(second, kid) == KEY


@pytest.mark.parametrize(
    ("recipients", "name"),
    [
        ([], "recipients"),
        ([("not a did", bytes(32))], "kid"),
        ([("did:key:z6LSa#a", bytes(31))], "public_key"),
        ([("did:key:z6LSa#a", bytes(32))], "public_key"),  # a low-order point
    ],
)
def test_seal_checks_its_arguments(recipients: list[tuple[str, bytes]], name: str) -> None:
    with pytest.raises(InvalidAssetArgument) as caught:
        Envelope.seal(KEY, recipients)
    assert caught.value.name == name


def test_the_json_is_canonical(parties: dict[str, X25519PrivateKey]) -> None:
    envelope = Envelope.seal(KEY, [(kid, raw_public(key)) for kid, key in parties.items()])
    text = envelope.to_json()
    expected = {
        "cipher": "AES-256-GCM-STREAM/v1",
        "hpke": "DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM",
        "recipients": [{"enc": e.enc, "kid": e.kid} for e in envelope.recipients],
        "version": 1,
    }
    assert text == json.dumps(expected, sort_keys=True, separators=(",", ":")).encode()
    assert Envelope.from_json(text) == envelope
    assert Envelope.from_json(text.decode()) == envelope


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            b"",
            "malformed envelope: envelope: Invalid JSON: EOF while parsing a value at line 1 "
            "column 0",
        ),
        (b"[]", "malformed envelope: envelope: Input should be an object"),
        (
            b'{"version":1,"cipher":"AES-256-GCM-STREAM/v1","recipients":'
            b'[{"kid":"nope","enc":"A+"}],"extra":1}',
            "malformed envelope: recipients.0.kid: Value error, invalid DID 'nope': a DID "
            "starts with 'did:'; recipients.0.enc: String should match pattern "
            "'^[A-Za-z0-9_-]+$'; extra: Extra inputs are not permitted",
        ),
        (
            b'{"version":1,"recipients":[{"kid":"did:x:1#a","enc":"AA"},'
            b'{"kid":"did:x:1#a","enc":"AB"}]}',
            "malformed envelope: recipients: Value error, a kid appears more than once: did:x:1#a",
        ),
        (
            b'{"version":"1","cipher":"AES-128-GCM","recipients":[]}',
            "malformed envelope: version: Input should be 1; cipher: Input should be "
            "'AES-256-GCM-STREAM/v1'; recipients: Value error, an envelope needs at least one "
            "recipient",
        ),
    ],
)
def test_from_json_lists_every_problem(text: bytes, reason: str) -> None:
    with pytest.raises(DecryptionError) as caught:
        Envelope.from_json(text)
    assert caught.value.reason == reason


@given(st.binary() | st.text())
@settings(max_examples=200, deadline=None)
def test_from_json_of_garbage_is_a_decryption_error(garbage: bytes | str) -> None:
    with pytest.raises(DecryptionError, match=r"^cannot decrypt: malformed envelope: "):
        Envelope.from_json(garbage)


# -- the recipient's key from its DID document -------------------------------------------


@pytest.mark.parametrize(("did", "vector"), ED25519.items(), ids=list(ED25519))
def test_key_agreement_key_of_a_did_key(did: str, vector: dict[str, Any]) -> None:
    pair = vector["keyAgreementKeyPair"]
    expected = (did + pair["id"], base58btc_decode(pair["publicKeyBase58"]))
    # the specification's own document (X25519KeyAgreementKey2019, base58) ...
    assert key_agreement_key(DIDDocument.model_validate(vector["didDocument"])) == expected
    # ... and troika's (Multikey z6LS...)
    assert key_agreement_key(DIDKey.parse(did).document()) == expected
    assert key_agreement_key(DIDKey.parse(did).document("JsonWebKey2020")) == expected
    # the vector's private key opens what is sealed to the key found
    private = X25519PrivateKey.from_private_bytes(base58btc_decode(pair["privateKeyBase58"]))
    envelope = Envelope.seal(KEY, [expected])
    assert envelope.open(private, expected[0]) == KEY


def test_no_key_agreement_key_on_secp256k1_or_pkh_documents() -> None:
    secp = DIDKey.parse(next(iter(SECP256K1))).document()
    with pytest.raises(NoKeyAgreementKey) as caught:
        key_agreement_key(secp)
    assert caught.value.did == secp.id
    pkh = pkh_document("did:pkh:eip155:1:0xb9c5714089478a327f09197987f16f9e5d936e8a")
    with pytest.raises(NoKeyAgreementKey):
        key_agreement_key(pkh)


def test_malformed_key_agreement_methods_are_skipped() -> None:
    did = "did:ex:1"
    good = base58btc_decode("7By6kV2t2d188odEM4ExAve1UithKT6dLva4dwsDT3ak")
    methods: list[dict[str, Any]] = [
        {"id": "#short", "type": "X25519KeyAgreementKey2019", "publicKeyBase64": "AAAA"},
        {
            "id": "#ed",
            "type": "Multikey",
            "publicKeyMultibase": "z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        },
        {"id": "#p256", "type": "JsonWebKey2020", "publicKeyJwk": {"kty": "EC", "crv": "P-256"}},
        {"id": "#hex", "type": "X25519KeyAgreementKey2019", "publicKeyHex": "0x" + good.hex()},
    ]
    document = DIDDocument.model_validate(
        {
            "id": did,
            "verificationMethod": [{**m, "controller": did} for m in methods],
            "keyAgreement": [m["id"] for m in methods],
        }
    )
    assert key_agreement_key(document) == ("did:ex:1#hex", good)


def test_key_agreement_key_of_a_troika_identity(tmp_path: Path) -> None:
    from troika.chain import Chain, Keystore
    from troika.did import EthrRegistry, EthrResolver, Resolver
    from troika.did._identity import Identities

    chain = Chain.embedded()
    identities = Identities(chain, Keystore(tmp_path, scrypt_n=2**10), EthrRegistry.deploy(chain))
    alice = identities.create("alice", "pw", kind="person")
    resolver = Resolver()
    resolver.register("ethr", EthrResolver({chain.chain_id: chain}))
    result = resolver.resolve(str(alice.did))
    assert result.did_document is not None
    kid, public_key = key_agreement_key(result.did_document)
    assert kid.startswith(f"{alice.did}#")
    assert public_key == alice.key_agreement_public
    envelope = Envelope.seal(KEY, [(kid, public_key)])
    assert envelope.open(alice.key_agreement(), kid) == KEY
    assert envelope.open(alice.key_agreement()) == KEY
