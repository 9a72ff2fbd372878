"""The CID: an immutable, self-describing content address (multiformats/cid)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from troika._errors import InvalidCID
from troika.ipfs._multiformats import (
    Multihash,
    base58btc_decode,
    base58btc_encode,
    codec_code,
    codec_name,
    multibase_decode,
    multibase_encode,
    read_varint,
    varint,
)

__all__ = ["CID", "CIDLike"]

_DAG_PB = 0x70
_RAW = 0x55
_SHA2_256 = 0x12


@dataclass(frozen=True, slots=True)
class CID:
    """A content identifier, version 0 or 1.

    Build one by parsing (:meth:`parse`, :meth:`decode`) or from content
    (:meth:`of`); methods return new values, a CID never changes.

    Example:
        >>> cid = CID.parse("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n")
        >>> cid.version, cid.codec, cid.multihash.name
        (0, 'dag-pb', 'sha2-256')
        >>> str(cid.to_v1())
        'bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'
        >>> cid.to_v1().to_v0() == cid
        True
    """

    version: int
    codec_code: int
    multihash: Multihash

    def __post_init__(self) -> None:
        if self.version not in (0, 1):
            raise InvalidCID(self.version, "CID version must be 0 or 1")
        if self.version == 0 and (
            self.codec_code != _DAG_PB
            or self.multihash.code != _SHA2_256
            or len(self.multihash.digest) != 32
        ):
            raise InvalidCID(
                f"v0 {codec_name(self.codec_code)} {self.multihash.name}",
                "a CIDv0 is always dag-pb with a 32-byte sha2-256 digest",
            )

    # -- constructors -------------------------------------------------------------

    @classmethod
    def parse(cls, text: CIDLike) -> CID:
        """Parse a CID string: CIDv0 (``Qm...``) or CIDv1 in any multibase.

        Raises:
            InvalidCID: ``text`` is not a CID; the message says why.
        """
        if isinstance(text, CID):
            return text
        if not isinstance(text, str):
            raise InvalidCID(text, f"expected a str, got {type(text).__name__}")
        if len(text) == 46 and text.startswith("Qm"):
            try:
                raw = base58btc_decode(text)
            except ValueError as exc:
                raise InvalidCID(text, str(exc)) from exc
            return cls._from_v0_bytes(raw, text)
        try:
            _, raw = multibase_decode(text)
        except ValueError as exc:
            raise InvalidCID(text, str(exc)) from exc
        return cls.decode(raw, _shown=text)

    @classmethod
    def decode(cls, raw: bytes | memoryview, *, _shown: object = None) -> CID:
        """Decode a binary CID (as in CAR files and dag-pb links).

        Raises:
            InvalidCID: the bytes are not exactly one CID.
        """
        shown = raw if _shown is None else _shown
        cid, end = cls.read(raw, _shown=shown)
        if end != len(raw):
            raise InvalidCID(shown, f"{len(raw) - end} bytes after the CID")
        return cid

    @classmethod
    def read(
        cls, raw: bytes | memoryview, offset: int = 0, *, _shown: object = None
    ) -> tuple[CID, int]:
        """Read a binary CID at ``offset``; returns it and the offset after it."""
        shown = bytes(raw[offset : offset + 64]) if _shown is None else _shown
        try:
            if len(raw) - offset >= 2 and raw[offset] == _SHA2_256 and raw[offset + 1] == 32:
                multihash, end = Multihash.decode(raw, offset)
                return cls(0, _DAG_PB, multihash), end
            version, position = read_varint(raw, offset)
            if version != 1:
                raise InvalidCID(shown, f"unknown CID version {version}")
            codec, position = read_varint(raw, position)
            multihash, end = Multihash.decode(raw, position)
        except ValueError as exc:
            raise InvalidCID(shown, str(exc)) from exc
        return cls(1, codec, multihash), end

    @classmethod
    def _from_v0_bytes(cls, raw: bytes, shown: str) -> CID:
        if len(raw) != 34 or raw[:2] != b"\x12\x20":
            raise InvalidCID(shown, "a CIDv0 is a 34-byte sha2-256 multihash")
        return cls(0, _DAG_PB, Multihash(_SHA2_256, raw[2:]))

    @classmethod
    def of(cls, data: bytes | memoryview, codec: str | int = "raw", *, version: int = 1) -> CID:
        """The sha2-256 CID of one block of ``data``.

        Example:
            >>> str(CID.of(b"hello"))
            'bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq'
        """
        try:
            return cls(version, codec_code(codec), Multihash.sha2_256(data))
        except ValueError as exc:
            raise InvalidCID(codec, str(exc)) from exc

    # -- views ----------------------------------------------------------------------

    @property
    def codec(self) -> str:
        """The content codec's name (``"dag-pb"``, ``"raw"``, ...)."""
        return codec_name(self.codec_code)

    def __bytes__(self) -> bytes:
        if self.version == 0:
            return bytes(self.multihash)
        return varint(1) + varint(self.codec_code) + bytes(self.multihash)

    def __str__(self) -> str:
        return self.encode()

    def __repr__(self) -> str:
        return f"CID({str(self)!r})"

    def encode(self, base: str | None = None) -> str:
        """The string form: base58btc for v0, base32 (or ``base``) for v1.

        Raises:
            InvalidCID: a v0 CID asked for another base than base58btc.
        """
        if self.version == 0:
            if base not in (None, "base58btc"):
                raise InvalidCID(self, f"a CIDv0 has no {base} form; use to_v1() first")
            return base58btc_encode(bytes(self.multihash))
        try:
            return multibase_encode(bytes(self), base or "base32")
        except ValueError as exc:
            raise InvalidCID(self, str(exc)) from exc

    def to_v1(self) -> CID:
        """The same content as a CIDv1."""
        return self if self.version == 1 else CID(1, self.codec_code, self.multihash)

    def to_v0(self) -> CID:
        """The same content as a CIDv0 (dag-pb and sha2-256 only).

        Raises:
            InvalidCID: the CID has no v0 form.
        """
        return self if self.version == 0 else CID(0, self.codec_code, self.multihash)

    def verify(self, block: bytes | memoryview) -> bool:
        """True if ``block`` is the content this CID addresses."""
        return self.multihash.verify(block)


#: What troika accepts wherever a CID is expected.
CIDLike: TypeAlias = CID | str
