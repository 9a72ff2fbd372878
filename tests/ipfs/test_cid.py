"""CID parsing and formatting in every base, with Kubo's ``ipfs cid`` commands as the peer.

Hypothesis checks troika against itself (every CID survives every base and the
binary form); the Kubo tests check it against ``ipfs cid format`` and ``ipfs
cid base32`` for a seeded sample of CIDs, and check that Kubo rejects the
strings troika rejects.
"""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests._services import Kubo, ServiceError
from troika._errors import InvalidCID
from troika.ipfs import CID, Multihash
from troika.ipfs._multiformats import BASES, CODECS

# multihash name -> (code, digest size); the functions Kubo and troika both know
HASHES = {
    "sha2-256": (0x12, 32),
    "sha2-512": (0x13, 64),
    "sha3-256": (0x16, 32),
    "sha3-512": (0x14, 64),
    "blake2b-256": (0xB220, 32),
    "identity": (0x00, None),
}


def cid_v1(codec: int, hash_name: str, digest: bytes) -> CID:
    return CID(1, codec, Multihash(HASHES[hash_name][0], digest))


@st.composite
def cids(draw: st.DrawFn, known_codecs_only: bool = False) -> CID:
    if draw(st.booleans()):
        return CID(0, 0x70, Multihash(0x12, draw(st.binary(min_size=32, max_size=32))))
    codec = draw(
        st.sampled_from(sorted(CODECS.values()))
        if known_codecs_only
        else st.sampled_from(sorted(CODECS.values())) | st.integers(0, 2**40)
    )
    name = draw(st.sampled_from(sorted(HASHES)))
    size = HASHES[name][1]
    digest = draw(st.binary(min_size=size, max_size=size) if size else st.binary(max_size=64))
    return cid_v1(codec, name, digest)


# -- troika against itself --------------------------------------------------------------


@given(cids(), st.sampled_from(sorted(BASES)))
def test_every_cid_survives_every_base(cid: CID, base: str) -> None:
    v1 = cid.to_v1()

    text = v1.encode(base)

    assert text[0] == BASES[base]
    assert CID.parse(text) == v1


@given(cids())
def test_string_and_binary_forms_round_trip(cid: CID) -> None:
    assert CID.parse(str(cid)) == cid
    assert CID.decode(bytes(cid)) == cid
    assert CID.read(bytes(cid) + b"tail") == (cid, len(bytes(cid)))
    assert cid.to_v1().to_v0() == cid if cid.version == 0 else cid.to_v1() == cid


@given(cids())
def test_v0_strings_are_base58btc_only(cid: CID) -> None:
    if cid.version == 0:
        assert str(cid).startswith("Qm")
        with pytest.raises(InvalidCID):
            cid.encode("base32")
    else:
        assert str(cid).startswith("b")


@given(st.text(max_size=80))
def test_any_text_parses_or_raises_invalid_cid_quoting_it(text: str) -> None:
    error: InvalidCID | None = None
    try:
        cid = CID.parse(text)
    except InvalidCID as caught:
        error = caught
    if error is None:
        assert CID.parse(str(cid)) == cid
    else:
        assert error.cid == text
        assert repr(text) in str(error)
        assert isinstance(error, ValueError)


@given(st.binary(max_size=80))
def test_any_bytes_decode_or_raise_invalid_cid(raw: bytes) -> None:
    error: InvalidCID | None = None
    try:
        cid = CID.decode(raw)
    except InvalidCID as caught:
        error = caught
    if error is None:
        assert bytes(cid) == raw
    else:
        assert error.cid == raw


# -- against Kubo ---------------------------------------------------------------------------


def sample() -> list[CID]:
    """A seeded sample: every known codec, every hash function, CIDv0 too."""
    rng = random.Random(20261127)
    out = [CID(0, 0x70, Multihash(0x12, rng.randbytes(32))) for _ in range(4)]
    for codec in CODECS.values():
        for name, (_, size) in HASHES.items():
            out.append(cid_v1(codec, name, rng.randbytes(size if size else rng.randrange(0, 40))))
    return out


def cid_format(kubo: Kubo, tmp_path_factory: pytest.TempPathFactory, *args: str) -> list[str]:
    # `ipfs cid` needs no repo: an empty folder, so that no daemon is asked.
    norepo = tmp_path_factory.mktemp("norepo")
    return kubo.cli("cid", "format", *args, ipfs_path=norepo).splitlines()


@pytest.mark.kubo
@pytest.mark.parametrize("base", sorted(BASES))
def test_every_base_equals_kubos(
    kubo: Kubo, tmp_path_factory: pytest.TempPathFactory, base: str
) -> None:
    cids_ = sample()

    kubos = cid_format(kubo, tmp_path_factory, "-v", "1", "-b", base, *map(str, cids_))

    assert [cid.to_v1().encode(base) for cid in cids_] == kubos
    assert [CID.parse(text) for text in kubos] == [cid.to_v1() for cid in cids_]


@pytest.mark.kubo
def test_fields_equal_kubos(kubo: Kubo, tmp_path_factory: pytest.TempPathFactory) -> None:
    cids_ = sample()

    kubos = cid_format(kubo, tmp_path_factory, "-f", "%V %c %h %L %s", *map(str, cids_))

    assert [
        f"{cid.version} {cid.codec} {cid.multihash.name} {len(cid.multihash.digest)} {cid}"
        for cid in cids_
    ] == kubos


@pytest.mark.kubo
def test_base32_equals_kubos(kubo: Kubo, tmp_path_factory: pytest.TempPathFactory) -> None:
    cids_ = sample()
    norepo = tmp_path_factory.mktemp("norepo")

    kubos = kubo.cli("cid", "base32", *map(str, cids_), ipfs_path=norepo).splitlines()

    assert [str(cid.to_v1()) for cid in cids_] == kubos


@pytest.mark.kubo
@pytest.mark.parametrize(
    "base", ["base32", "base32upper", "base36", "base36upper", "base64url", "base16"]
)
def test_kubos_strings_in_every_base_parse(
    kubo: Kubo, tmp_path_factory: pytest.TempPathFactory, base: str
) -> None:
    # Strings that Kubo wrote, for content Kubo knows: the empty file and folder.
    known = [
        "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH",
        "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn",
        "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
    ]

    kubos = cid_format(kubo, tmp_path_factory, "-v", "1", "-b", base, *known)

    assert [CID.parse(text) for text in kubos] == [CID.parse(text).to_v1() for text in known]


INVALID = [
    "",
    "Qm",
    "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXE0",  # 0 is not base58
    "QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXE",  # a character short
    "bafybei",  # truncated
    "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyk",  # one short
    "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvykuaa",  # bytes after it
    "xafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",  # unknown base
    "not a cid",
    "/ipfs/QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH",
]


@pytest.mark.parametrize("text", INVALID)
def test_invalid_strings_raise_invalid_cid_quoting_them(text: str) -> None:
    with pytest.raises(InvalidCID) as caught:
        CID.parse(text)

    assert caught.value.cid == text
    assert str(caught.value).startswith(f"invalid CID {text!r}: ")


@pytest.mark.kubo
def test_kubo_rejects_them_too(kubo: Kubo, tmp_path_factory: pytest.TempPathFactory) -> None:
    for text in INVALID:
        with pytest.raises(ServiceError, match=f"{re.escape(text)}: invalid cid: "):
            cid_format(kubo, tmp_path_factory, "--", text)


@pytest.mark.kubo
def test_a_cidv0_in_multibase_base58btc_is_a_cidv0_as_in_kubo(
    kubo: Kubo, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # go-cid reads a 34-byte sha2-256 multihash as a CIDv0 whatever carries it.
    text = "zQmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN"

    (kubos,) = cid_format(kubo, tmp_path_factory, text)

    assert str(CID.parse(text)) == kubos == text[1:]


def test_a_non_string_raises_invalid_cid() -> None:
    with pytest.raises(InvalidCID, match="expected a str, got bytes"):
        CID.parse(b"QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH")  # type: ignore[arg-type]


@pytest.mark.kubo
def test_mixed_case_base32_base36_base16_parse_as_kubo_reads_them(
    kubo: Kubo, tmp_path_factory: pytest.TempPathFactory
) -> None:
    cids_ = sample()[:6]
    mixed = []
    for cid in cids_:
        for base in ("base32", "base36", "base16"):
            text = cid.to_v1().encode(base)
            mixed.append(
                text[0] + "".join(c.upper() if i % 2 else c for i, c in enumerate(text[1:]))
            )
    kubos = cid_format(kubo, tmp_path_factory, "-v", "1", "-b", "base32", *mixed)
    assert [str(CID.parse(text)) for text in mixed] == kubos
