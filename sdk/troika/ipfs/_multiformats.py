"""Multiformats: unsigned varints, multibase, multihash and the multicodec table.

Pure functions over bytes, no I/O. Every decoder takes input from outside and
trusts none of it: malformed input raises ``ValueError`` with the reason, and
callers turn that into their own error (``InvalidCID``, ``CARError``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = [
    "CODECS",
    "HASHES",
    "Multihash",
    "codec_code",
    "codec_name",
    "multibase_decode",
    "multibase_encode",
    "read_varint",
    "varint",
]

# -- unsigned varint (multiformats/unsigned-varint) ------------------------------

_MAX_VARINT_BYTES = 9  # the spec caps varints at 9 bytes (63 bits)


def varint(value: int) -> bytes:
    """The unsigned LEB128 varint of ``value``.

    Example:
        >>> varint(300).hex()
        'ac02'
    """
    if value < 0:
        raise ValueError(f"varint of a negative number {value!r}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_varint(data: bytes | memoryview, offset: int = 0) -> tuple[int, int]:
    """Decode the varint at ``offset``; returns ``(value, offset after it)``.

    Raises ``ValueError`` for a truncated, overlong or non-minimal varint.

    Example:
        >>> read_varint(bytes.fromhex("ac02ff"))
        (300, 2)
    """
    value = 0
    for index in range(_MAX_VARINT_BYTES):
        position = offset + index
        if position >= len(data):
            raise ValueError("truncated varint")
        byte = data[position]
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            if byte == 0 and index > 0:
                raise ValueError("non-minimal varint")
            return value, position + 1
    raise ValueError("varint longer than 9 bytes")


# -- multibase -------------------------------------------------------------------

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_INDEX = {c: i for i, c in enumerate(_BASE58)}
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _radix_encode(data: bytes, alphabet: str) -> str:
    # Leading zero bytes become leading zero digits, as base58btc and base36 define.
    zeros = len(data) - len(data.lstrip(b"\x00"))
    number = int.from_bytes(data, "big")
    digits = []
    while number:
        number, rest = divmod(number, len(alphabet))
        digits.append(alphabet[rest])
    return alphabet[0] * zeros + "".join(reversed(digits))


def base58btc_encode(data: bytes) -> str:
    """Bitcoin's base58 (no prefix). Example: ``base58btc_encode(b"\\x00\\x01") == "12"``."""
    return _radix_encode(data, _BASE58)


def base58btc_decode(text: str) -> bytes:
    """Inverse of :func:`base58btc_encode`; ``ValueError`` on a character outside it."""
    zeros = len(text) - len(text.lstrip("1"))
    number = 0
    for char in text:
        digit = _BASE58_INDEX.get(char)
        if digit is None:
            raise ValueError(f"{char!r} is not a base58btc character")
        number = number * 58 + digit
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\x00" * zeros + body


def _base36_encode(data: bytes) -> str:
    return _radix_encode(data, _BASE36)


def _base36_decode(text: str) -> bytes:
    # int() alone would take a sign, "_", whitespace and non-ASCII digits too.
    if any(c not in _BASE36 for c in text):
        raise ValueError("not base36")
    zeros = len(text) - len(text.lstrip("0"))
    try:
        number = int(text, 36) if text else 0
    except ValueError as exc:  # longer than int's digit limit
        raise ValueError("not base36") from exc
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\x00" * zeros + body


def _base16_decode(text: str) -> bytes:
    # bytes.fromhex alone would skip whitespace.
    if any(c not in "0123456789abcdef" for c in text):
        raise ValueError("not base16")
    return bytes.fromhex(text)


def _unpadded(encoded: bytes) -> str:
    return encoded.decode("ascii").rstrip("=")


def _b32decode(text: str) -> bytes:
    if any(c not in "abcdefghijklmnopqrstuvwxyz234567" for c in text):
        raise ValueError("not base32")
    return base64.b32decode(text.upper() + "=" * (-len(text) % 8))


def _b64decode(text: str, alphabet: str) -> bytes:
    if any(c not in alphabet for c in text.rstrip("=")):
        raise ValueError("not base64")
    padded = text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4)
    return base64.b64decode(padded, altchars=alphabet[62:64].encode(), validate=True)


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

#: multibase name -> prefix character (multiformats/multibase's table).
BASES: Mapping[str, str] = {
    "base16": "f",
    "base16upper": "F",
    "base32": "b",
    "base32upper": "B",
    "base36": "k",
    "base36upper": "K",
    "base58btc": "z",
    "base64": "m",
    "base64pad": "M",
    "base64url": "u",
    "base64urlpad": "U",
}


def multibase_encode(data: bytes, base: str = "base32") -> str:
    """``data`` in the multibase ``base``, with its prefix.

    Example:
        >>> multibase_encode(b"hi", "base58btc")
        'z8wr'
    """
    body: str
    if base == "base16":
        body = data.hex()
    elif base == "base16upper":
        body = data.hex().upper()
    elif base == "base32":
        body = _unpadded(base64.b32encode(data)).lower()
    elif base == "base32upper":
        body = _unpadded(base64.b32encode(data))
    elif base == "base36":
        body = _base36_encode(data)
    elif base == "base36upper":
        body = _base36_encode(data).upper()
    elif base == "base58btc":
        body = base58btc_encode(data)
    elif base == "base64":
        body = _unpadded(base64.b64encode(data))
    elif base == "base64pad":
        body = base64.b64encode(data).decode("ascii")
    elif base == "base64url":
        body = _unpadded(base64.urlsafe_b64encode(data))
    elif base == "base64urlpad":
        body = base64.urlsafe_b64encode(data).decode("ascii")
    else:
        raise ValueError(f"unknown multibase {base!r}; known: {', '.join(sorted(BASES))}")
    return BASES[base] + body


# The multibase spec makes base16, base32 and base36 case-insensitive when
# decoding (Kubo accepts "bAFK..."); only the encoders pick one case.
_DECODERS: Mapping[str, Callable[[str], bytes]] = {
    "base16": lambda body: _base16_decode(body.lower()),
    "base16upper": lambda body: _base16_decode(body.lower()),
    "base32": lambda body: _b32decode(body.lower()),
    "base32upper": lambda body: _b32decode(body.lower()),
    "base36": lambda body: _base36_decode(body.lower()),
    "base36upper": lambda body: _base36_decode(body.lower()),
    "base58btc": base58btc_decode,
    "base64": lambda body: _b64decode(body, _B64),
    "base64pad": lambda body: _b64decode(body, _B64),
    "base64url": lambda body: _b64decode(body, _B64URL),
    "base64urlpad": lambda body: _b64decode(body, _B64URL),
}
_PREFIXES = {prefix: base for base, prefix in BASES.items()}


def multibase_decode(text: str) -> tuple[str, bytes]:
    """Decode a multibase string; returns ``(base name, bytes)``.

    Example:
        >>> multibase_decode("z8wr")
        ('base58btc', b'hi')
    """
    if not text:
        raise ValueError("empty multibase string")
    base = _PREFIXES.get(text[0])
    if base is None:
        raise ValueError(f"unknown multibase prefix {text[0]!r}")
    try:
        return base, _DECODERS[base](text[1:])
    except (ValueError, binascii.Error) as exc:
        raise ValueError(f"malformed {base}: {exc}") from exc


# -- multicodec and multihash ------------------------------------------------------

#: The content codecs troika meets (multiformats/multicodec's table).
CODECS: Mapping[str, int] = {
    "identity": 0x00,
    "raw": 0x55,
    "dag-pb": 0x70,
    "dag-cbor": 0x71,
    "libp2p-key": 0x72,
    "git-raw": 0x78,
    "dag-jose": 0x85,
    "dag-json": 0x0129,
    "json": 0x0200,
}

#: The hash functions, by multihash name: (code, digest size or None if any).
HASHES: Mapping[str, tuple[int, int | None]] = {
    "identity": (0x00, None),
    "sha1": (0x11, 20),
    "sha2-256": (0x12, 32),
    "sha2-512": (0x13, 64),
    "sha3-512": (0x14, 64),
    "sha3-384": (0x15, 48),
    "sha3-256": (0x16, 32),
    "sha3-224": (0x17, 28),
    "keccak-256": (0x1B, 32),
    "blake2b-256": (0xB220, 32),
    "blake2b-512": (0xB240, 64),
    "blake3": (0x1E, None),
}
_HASH_NAMES = {code: name for name, (code, _) in HASHES.items()}
_CODEC_NAMES = {code: name for name, code in CODECS.items()}


def codec_code(codec: str | int) -> int:
    """The multicodec code of ``codec`` (a name or a code)."""
    if isinstance(codec, int):
        if codec < 0:
            raise ValueError(f"negative codec {codec!r}")
        return codec
    try:
        return CODECS[codec]
    except KeyError:
        raise ValueError(f"unknown codec {codec!r}; known: {', '.join(CODECS)}") from None


def codec_name(code: int) -> str:
    """The name of a multicodec code, or its hex if troika has no name for it."""
    return _CODEC_NAMES.get(code, f"0x{code:x}")


@dataclass(frozen=True, slots=True)
class Multihash:
    """A self-describing digest: hash function code and digest bytes."""

    code: int
    digest: bytes

    @property
    def name(self) -> str:
        """The hash function's multihash name (``"sha2-256"``)."""
        return _HASH_NAMES.get(self.code, f"0x{self.code:x}")

    def __bytes__(self) -> bytes:
        return varint(self.code) + varint(len(self.digest)) + self.digest

    @classmethod
    def sha2_256(cls, data: bytes | memoryview) -> Multihash:
        """The sha2-256 multihash of ``data``.

        Example:
            >>> bytes(Multihash.sha2_256(b"")).hex()[:8]
            '1220e3b0'
        """
        return cls(0x12, hashlib.sha256(data).digest())

    @classmethod
    def decode(cls, data: bytes | memoryview, offset: int = 0) -> tuple[Multihash, int]:
        """Read a multihash at ``offset``; returns it and the offset after it."""
        code, offset = read_varint(data, offset)
        size, offset = read_varint(data, offset)
        expected = HASHES.get(_HASH_NAMES.get(code, ""), (code, None))[1]
        if expected is not None and size != expected:
            raise ValueError(f"{_HASH_NAMES[code]} digest of {size} bytes, not {expected}")
        end = offset + size
        if end > len(data):
            raise ValueError("truncated multihash digest")
        return cls(code, bytes(data[offset:end])), end

    def verify(self, data: bytes | memoryview) -> bool:
        """True if ``data`` hashes to this digest (sha2-256, sha2-512, sha3, blake2b, identity).

        Raises ``ValueError`` for a hash function troika cannot compute.
        """
        return _hash(self.code, data, len(self.digest)) == self.digest


def _hash(code: int, data: bytes | memoryview, size: int) -> bytes:
    if code == 0x12:
        return hashlib.sha256(data).digest()
    if code == 0x00:
        return bytes(data)
    if code == 0x13:
        return hashlib.sha512(data).digest()
    if code == 0x16:
        return hashlib.sha3_256(data).digest()
    if code == 0x14:
        return hashlib.sha3_512(data).digest()
    if code == 0x11:
        return hashlib.sha1(data, usedforsecurity=False).digest()
    if code in (0xB220, 0xB240):
        return hashlib.blake2b(data, digest_size=size).digest()
    raise ValueError(f"cannot verify multihash function {_HASH_NAMES.get(code, hex(code))}")
