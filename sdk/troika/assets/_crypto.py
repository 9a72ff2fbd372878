"""Private content: streamed AES-256-GCM for the data, HPKE for the content key.

A dataset or model is encrypted under a random 32-byte content key before it
is pinned, and the content key is wrapped for each entitled party with HPKE
(RFC 9180, mode base, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM)
to the X25519 key-agreement key on that party's DID document. The wrapped keys
form an :class:`Envelope`, pinned next to the ciphertext and referenced from
the asset's metadata.

The ciphertext format, ``AES-256-GCM-STREAM/v1``, is the STREAM construction
(Hoang, Reyhanitabar, Rogaway, Vizár, "Online Authenticated-Encryption and its
Nonce-Reuse Misuse-Resistance", CRYPTO 2015) over AES-256-GCM, laid out as
Tink's streaming AEAD lays out its nonces::

    header   = "TRKE" || version (1 byte, 1) || segment size (4 bytes, big-endian)
               || nonce prefix (7 random bytes)                          -- 16 bytes
    segment  = AES-256-GCM(key, nonce, plaintext segment, aad=header)   -- ciphertext || 16-byte tag
    nonce    = nonce prefix || segment index (4 bytes, big-endian) || 0x01 if last else 0x00
    stream   = header || segment 0 || ... || segment n  (every segment full but the last,
               which holds 1 to segment-size bytes; the empty plaintext is one empty last segment)

Each segment authenticates its position and whether it ends the stream, so
truncating, reordering, dropping or appending segments fails like a flipped
byte does, and no plaintext of a segment is released before its tag checks.
A content key encrypts one asset: :func:`new_content_key` for each.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import os
import secrets
import struct
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from troika._errors import DecryptionError, InvalidAssetArgument, NoKeyAgreementKey, NotEntitled
from troika.did._did import DIDURL

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

    from troika.did._document import DIDDocument, VerificationMethod

__all__ = [
    "CIPHER",
    "DEFAULT_SEGMENT_SIZE",
    "HPKE_SUITE",
    "MAX_SEGMENT_SIZE",
    "EncryptingReader",
    "Envelope",
    "WrappedKey",
    "ciphertext_size",
    "decrypt_bytes",
    "decrypt_stream",
    "decrypt_to",
    "encrypt_bytes",
    "key_agreement_key",
    "new_content_key",
]

#: Plaintext bytes per segment unless the caller chooses: 1 MiB.
DEFAULT_SEGMENT_SIZE: Final = 1 << 20
#: The largest segment size a stream may declare (decryption buffers one segment).
MAX_SEGMENT_SIZE: Final = 1 << 26
#: The name of the ciphertext format, as an :class:`Envelope` records it.
CIPHER: Final = "AES-256-GCM-STREAM/v1"
#: The HPKE suite that wraps content keys, named as RFC 9180 names its parts.
HPKE_SUITE: Final = "DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM"

KEY_SIZE: Final = 32
TAG_SIZE: Final = 16
MAGIC: Final = b"TRKE"
FORMAT_VERSION: Final = 1
NONCE_PREFIX_SIZE: Final = 7
_HEADER = struct.Struct(">4sBI7s")  # magic, version, segment size, nonce prefix
HEADER_SIZE: Final = _HEADER.size  # 16
_MAX_SEGMENTS = 1 << 32  # the index is 4 bytes

_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
_INFO_LABEL: Final = b"troika/assets/content-key/v1"
_WRAPPED_SIZE = 32 + KEY_SIZE + TAG_SIZE  # enc (X25519 public key) || sealed key || tag
_X25519_CODEC = 0xEC  # multicodec x25519-pub


def new_content_key() -> bytes:
    """A fresh random AES-256 content key (32 bytes), for one asset.

    Example:
        >>> key = new_content_key()
        >>> len(key), key != new_content_key()
        (32, True)
    """
    return secrets.token_bytes(KEY_SIZE)


def _check_key(key: bytes) -> AESGCM:
    if not isinstance(key, bytes | bytearray | memoryview) or len(key) != KEY_SIZE:
        size = len(key) if isinstance(key, bytes | bytearray | memoryview) else None
        shown = f"<{size} bytes>" if size is not None else type(key).__name__
        raise InvalidAssetArgument("key", shown, "a content key is 32 bytes (new_content_key())")
    return AESGCM(bytes(key))


def _check_segment_size(segment_size: int) -> int:
    if isinstance(segment_size, bool) or not isinstance(segment_size, int):
        raise InvalidAssetArgument("segment_size", segment_size, "must be an int")
    if not 1 <= segment_size <= MAX_SEGMENT_SIZE:
        raise InvalidAssetArgument(
            "segment_size", segment_size, f"must be from 1 to {MAX_SEGMENT_SIZE} bytes"
        )
    return segment_size


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def ciphertext_size(plaintext_size: int, segment_size: int = DEFAULT_SEGMENT_SIZE) -> int:
    """The size of the ciphertext of ``plaintext_size`` bytes: header plus one tag a segment.

    Raises:
        InvalidAssetArgument: a negative size, or a segment size out of range.

    Example:
        >>> ciphertext_size(0), ciphertext_size(1), ciphertext_size(3 * 1024 + 5, 1024)
        (32, 33, 3157)
    """
    if isinstance(plaintext_size, bool) or not isinstance(plaintext_size, int):
        raise InvalidAssetArgument("plaintext_size", plaintext_size, "must be an int")
    if plaintext_size < 0:
        raise InvalidAssetArgument("plaintext_size", plaintext_size, "must not be negative")
    segments = max(1, -(-plaintext_size // _check_segment_size(segment_size)))
    return HEADER_SIZE + plaintext_size + segments * TAG_SIZE


class EncryptingReader(io.RawIOBase):
    """A readable binary stream of the ciphertext of ``source``, made as it is read.

    Memory stays at about three segments whatever the size (3 MiB by default):
    one segment is read ahead, so the last one is known without knowing the
    size, beside the one being encrypted and its ciphertext. The plaintext's
    size and SHA-256 come out of the same single pass. Closing the reader does
    not close ``source``.

    Args:
        source: The plaintext, read to its end.
        key: The 32-byte content key.
        segment_size: Plaintext bytes per segment (1 to :data:`MAX_SEGMENT_SIZE`).

    Raises:
        InvalidAssetArgument: a key that is not 32 bytes, a segment size out of range.

    Example:
        >>> key = new_content_key()
        >>> reader = EncryptingReader(io.BytesIO(b"hello\\n"), key)
        >>> ciphertext = reader.read()
        >>> len(ciphertext) == ciphertext_size(6), reader.plaintext_size
        (True, 6)
        >>> reader.sha256 == hashlib.sha256(b"hello\\n").hexdigest()
        True
        >>> decrypt_bytes(ciphertext, key)
        b'hello\\n'
    """

    def __init__(
        self, source: BinaryIO, key: bytes, *, segment_size: int = DEFAULT_SEGMENT_SIZE
    ) -> None:
        super().__init__()
        self._aead = _check_key(key)
        self._segment_size = _check_segment_size(segment_size)
        self._source = source
        self._header = _HEADER.pack(
            MAGIC, FORMAT_VERSION, segment_size, secrets.token_bytes(NONCE_PREFIX_SIZE)
        )
        self._prefix = self._header[-NONCE_PREFIX_SIZE:]
        self._hash = hashlib.sha256()
        self._size = 0
        self._index = 0
        self._ahead: bytes | None = None  # the next plaintext segment, once read
        self._finished = False
        self._out = b""  # ciphertext made but not yet read
        self._offset = 0

    @property
    def plaintext_size(self) -> int:
        """Plaintext bytes read from ``source`` so far (all of it once read to the end)."""
        return self._size

    @property
    def sha256(self) -> str:
        """The hex SHA-256 of the plaintext read so far: the file's, once read to the end."""
        return self._hash.hexdigest()

    def readable(self) -> bool:
        return True

    def _read_segment(self) -> bytes:
        size = self._segment_size
        data = self._source.read(size)
        if 0 < len(data) < size:  # a short read is not the end: read until full or EOF
            parts, got = [data], len(data)
            while got < size and (more := self._source.read(size - got)):
                parts.append(more)
                got += len(more)
            data = b"".join(parts)
        self._hash.update(data)
        self._size += len(data)
        return data

    def _next_piece(self) -> bytes:
        """The next piece of ciphertext: the header, then one segment at a time; b"" at the end."""
        if self._ahead is None:
            self._ahead = self._read_segment()
            return self._header
        if self._finished:
            return b""
        segment = self._ahead
        last = len(segment) < self._segment_size
        if not last:
            self._ahead = self._read_segment()
            last = not self._ahead
        if self._index >= _MAX_SEGMENTS:
            raise InvalidAssetArgument(
                "source",
                f"<more than {_MAX_SEGMENTS} segments>",
                "too large for this segment size; choose a larger segment_size",
            )
        piece = self._aead.encrypt(_nonce(self._prefix, self._index, last), segment, self._header)
        self._index += 1
        self._finished = last
        return piece

    def _fill(self) -> int:
        """Bytes ready to read, making the next piece if none are; 0 at the end."""
        if self.closed:
            raise ValueError("I/O operation on closed file")
        while self._offset == len(self._out):
            piece = self._next_piece()
            if not piece:
                return 0
            self._out, self._offset = piece, 0
        return len(self._out) - self._offset

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        """Read ciphertext into ``buffer``; returns the number of bytes, 0 at the end."""
        view = memoryview(buffer).cast("B")
        ready = self._fill()
        count = min(ready, len(view))
        view[:count] = self._out[self._offset : self._offset + count]
        self._offset += count
        return count

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes of ciphertext (all the rest if negative); b"" at the end."""
        if size is None or size < 0:
            return self.readall()
        ready = self._fill()
        if size >= ready and self._offset == 0:
            self._offset = len(self._out)
            return self._out  # the whole piece, without a copy
        count = min(ready, size)
        data = self._out[self._offset : self._offset + count]
        self._offset += count
        return data

    def readall(self) -> bytes:
        """All the rest of the ciphertext."""
        parts = []
        while self._fill():
            parts.append(self._out[self._offset :])
            self._offset = len(self._out)
        return b"".join(parts)


def encrypt_bytes(data: bytes, key: bytes, *, segment_size: int = DEFAULT_SEGMENT_SIZE) -> bytes:
    """The ciphertext of ``data`` under ``key``, in memory.

    Raises:
        InvalidAssetArgument: a key that is not 32 bytes, a segment size out of range.

    Example:
        >>> key = new_content_key()
        >>> ciphertext = encrypt_bytes(b"weights", key, segment_size=4)
        >>> len(ciphertext) == ciphertext_size(7, 4), decrypt_bytes(ciphertext, key)
        (True, b'weights')
    """
    return EncryptingReader(io.BytesIO(data), key, segment_size=segment_size).read()


class _Decryptor:
    """Ciphertext fed in pieces of any size, plaintext out segment by segment."""

    def __init__(self, key: bytes) -> None:
        self._aead = _check_key(key)
        self._header = bytearray()
        self._frame = 0  # ciphertext bytes of a full segment, once the header is read
        self._prefix = b""
        self._pending = bytearray()  # at most one frame: a segment not known to be last
        self._index = 0

    def _read_header(self) -> None:
        magic, version, segment_size, self._prefix = _HEADER.unpack(self._header)
        if magic != MAGIC:
            raise DecryptionError(
                f"not troika encrypted content: it starts with {magic!r}, not {MAGIC!r}"
            )
        if version != FORMAT_VERSION:
            raise DecryptionError(
                f"format version {version} is not supported (this troika reads {FORMAT_VERSION})"
            )
        if not 1 <= segment_size <= MAX_SEGMENT_SIZE:
            raise DecryptionError(
                f"the header declares segments of {segment_size} bytes; "
                f"at most {MAX_SEGMENT_SIZE} are allowed"
            )
        self._frame = segment_size + TAG_SIZE

    def _open(self, segment: bytes | bytearray | memoryview, last: bool) -> bytes:
        if self._index >= _MAX_SEGMENTS:
            raise DecryptionError(f"more than {_MAX_SEGMENTS} segments")
        try:
            plaintext = self._aead.decrypt(
                _nonce(self._prefix, self._index, last), segment, bytes(self._header)
            )
        except InvalidTag:
            where = "the last segment" if last else f"segment {self._index}"
            raise DecryptionError(
                f"{where} does not authenticate: the ciphertext was tampered with, "
                "reordered or truncated, or the key is wrong"
            ) from None
        self._index += 1
        return plaintext

    def feed(self, data: bytes | bytearray | memoryview) -> Iterator[bytes]:
        """The plaintext of every segment that ``data`` completes and that is not the last."""
        with memoryview(data) as whole:
            view = whole.cast("B")
            if not self._frame:
                need = HEADER_SIZE - len(self._header)
                self._header += view[:need]
                view = view[need:]
                if len(self._header) < HEADER_SIZE:
                    return
                self._read_header()
            frame = self._frame
            if self._pending:
                if len(self._pending) + len(view) <= frame:
                    self._pending += view
                    return
                # More bytes follow this segment, so it is not the last.
                take = frame - len(self._pending)
                self._pending += view[:take]
                view = view[take:]
                plaintext = self._open(self._pending, last=False)
                self._pending = bytearray()
                yield plaintext
            while len(view) > frame:
                yield self._open(view[:frame], last=False)
                view = view[frame:]
            self._pending += view

    def finish(self) -> bytes:
        """The plaintext of the last segment, once the input has ended."""
        if not self._frame:
            raise DecryptionError(
                f"truncated: the input ended inside the {HEADER_SIZE}-byte header "
                f"({len(self._header)} bytes)"
            )
        if len(self._pending) < TAG_SIZE:
            raise DecryptionError(
                f"truncated: the input ended {len(self._pending)} bytes into a segment, "
                f"shorter than its {TAG_SIZE}-byte tag"
            )
        plaintext = self._open(self._pending, last=True)
        if not plaintext and self._index > 1:
            # The encryptor only makes an empty last segment for the empty plaintext.
            raise DecryptionError("an empty last segment after full ones: not a canonical stream")
        return plaintext


def decrypt_stream(chunks: Iterable[bytes], key: bytes) -> Iterator[bytes]:
    """The plaintext of a ciphertext given in chunks of any size, one segment at a time.

    Memory stays at about one segment. A segment's plaintext is yielded only
    once its tag checks, but earlier segments are yielded before a later one
    fails: write them somewhere you can throw away (:func:`decrypt_to` does).

    Args:
        chunks: The ciphertext, cut anywhere (1 byte at a time, or 256 KiB blocks
            as an IPFS exporter yields them).
        key: The 32-byte content key.

    Raises:
        DecryptionError: while iterating: tampered, truncated, reordered or
            extended ciphertext, not troika's format, or the wrong key.
        InvalidAssetArgument: a key that is not 32 bytes (at once).

    Example:
        >>> key = new_content_key()
        >>> ciphertext = encrypt_bytes(b"0123456789", key, segment_size=4)
        >>> pieces = [ciphertext[i : i + 5] for i in range(0, len(ciphertext), 5)]
        >>> list(decrypt_stream(pieces, key))
        [b'0123', b'4567', b'89']
        >>> list(decrypt_stream([ciphertext[:-1]], key))
        Traceback (most recent call last):
        ...
        troika._errors.DecryptionError: cannot decrypt: the last segment does not authenticate: \
the ciphertext was tampered with, reordered or truncated, or the key is wrong
    """
    decryptor = _Decryptor(key)

    def plaintext() -> Iterator[bytes]:
        for chunk in chunks:
            yield from decryptor.feed(chunk)
        if last := decryptor.finish():
            yield last

    return plaintext()


def decrypt_bytes(data: bytes, key: bytes) -> bytes:
    """The plaintext of a whole ciphertext in memory.

    Raises:
        DecryptionError: tampered, truncated or reordered ciphertext, or the wrong key.
        InvalidAssetArgument: a key that is not 32 bytes.

    Example:
        >>> key = new_content_key()
        >>> decrypt_bytes(encrypt_bytes(b"", key), key)
        b''
        >>> decrypt_bytes(encrypt_bytes(b"x", key), new_content_key())
        Traceback (most recent call last):
        ...
        troika._errors.DecryptionError: cannot decrypt: the last segment does not authenticate: \
the ciphertext was tampered with, reordered or truncated, or the key is wrong
    """
    return b"".join(decrypt_stream([data], key))


def decrypt_to(chunks: Iterable[bytes], key: bytes, path: str | os.PathLike[str]) -> Path:
    """Decrypt into the file ``path``, all or nothing, readable by its owner only.

    The plaintext goes to a temporary file (mode 0600) in the same folder that
    replaces ``path`` once every segment has authenticated; on any failure it
    is removed and ``path`` is left as it was.

    Returns:
        The path written.

    Raises:
        DecryptionError: tampered, truncated or reordered ciphertext, or the wrong key.
        InvalidAssetArgument: a key that is not 32 bytes.
        OSError: the folder cannot be written.

    Example:
        >>> key = new_content_key()
        >>> out = decrypt_to([encrypt_bytes(b"rows\\n", key)], key, tmp_path / "data.csv")
        >>> out.read_bytes(), oct(out.stat().st_mode & 0o777)
        (b'rows\\n', '0o600')
    """
    target = Path(path)
    plaintext = decrypt_stream(chunks, key)
    descriptor, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".partial"
    )
    try:
        with os.fdopen(descriptor, "wb") as out:
            for piece in plaintext:
                out.write(piece)
            out.flush()
            os.fsync(out.fileno())
        Path(temporary).replace(target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


# -- the content key, wrapped for each recipient with HPKE ------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _from_b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _info(kid: str) -> bytes:
    # Binds a wrapped key to its recipient: it opens only under the kid it was made for.
    return _INFO_LABEL + b"\x00" + kid.encode("utf-8")


def _check_kid(kid: str) -> str:
    if not isinstance(kid, str):
        raise InvalidAssetArgument("kid", kid, "a key id is a DID URL (str)")
    try:
        DIDURL.parse(kid)
    except ValueError as exc:
        raise InvalidAssetArgument("kid", kid, f"not a DID URL: {exc}") from exc
    return kid


def _public_key(public_key: bytes) -> X25519PublicKey:
    if not isinstance(public_key, bytes | bytearray) or len(public_key) != 32:
        raise InvalidAssetArgument("public_key", public_key, "an X25519 public key is 32 raw bytes")
    return X25519PublicKey.from_public_bytes(bytes(public_key))


def _wrap(key: bytes, kid: str, public_key: bytes) -> WrappedKey:
    _check_key(key)
    _check_kid(kid)
    try:
        sealed = _SUITE.encrypt(bytes(key), _public_key(public_key), info=_info(kid))
    except ValueError as exc:  # a low-order point: the shared secret would be zero
        raise InvalidAssetArgument(
            "public_key", public_key, f"not a usable X25519 key: {exc}"
        ) from exc
    return WrappedKey(kid=kid, enc=_b64url(sealed))


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")


class WrappedKey(_Model):
    """The content key, HPKE-sealed for one recipient.

    Attributes:
        kid: The DID URL of the recipient's key-agreement verification method.
        enc: base64url (unpadded) of HPKE's output: the encapsulated X25519 key
            (32 bytes) then the sealed content key and its tag (48 bytes).
    """

    kid: str
    enc: str = Field(pattern=r"^[A-Za-z0-9_-]+$")

    @field_validator("kid")
    @classmethod
    def _kid_is_a_did_url(cls, value: str) -> str:
        DIDURL.parse(value)  # InvalidDID is a ValueError: pydantic reports it
        return value


class Envelope(_Model):
    """The content key of an encrypted asset, wrapped for each entitled party.

    Pinned next to the ciphertext and referenced from the metadata. Values are
    immutable: :meth:`with_recipient` returns a new envelope.

    Example:
        >>> owner, buyer = X25519PrivateKey.generate(), X25519PrivateKey.generate()
        >>> def raw(private):
        ...     return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        >>> key = new_content_key()
        >>> envelope = Envelope.seal(key, [("did:key:z6LSowner#k", raw(owner))])
        >>> envelope = envelope.with_recipient(key, "did:ethr:0x1:0xab#k", raw(buyer))
        >>> envelope.kids
        ('did:ethr:0x1:0xab#k', 'did:key:z6LSowner#k')
        >>> again = Envelope.from_json(envelope.to_json())
        >>> again.open(buyer) == key == again.open(owner, "did:key:z6LSowner#k")
        True
        >>> again.open(X25519PrivateKey.generate(), "did:key:z6LSowner#k")
        Traceback (most recent call last):
        ...
        troika._errors.DecryptionError: cannot decrypt: the content key for \
'did:key:z6LSowner#k' does not open with this private key: another key, or a tampered envelope
    """

    version: Literal[1] = 1
    cipher: Literal["AES-256-GCM-STREAM/v1"] = CIPHER
    hpke: Literal["DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM"] = HPKE_SUITE
    recipients: tuple[WrappedKey, ...]

    @field_validator("recipients")
    @classmethod
    def _one_entry_per_kid(cls, value: tuple[WrappedKey, ...]) -> tuple[WrappedKey, ...]:
        # A field validator runs only once every entry is valid: no second report of them.
        if not value:
            raise ValueError("an envelope needs at least one recipient")
        kids = [entry.kid for entry in value]
        if len(set(kids)) != len(kids):
            twice = sorted({kid for kid in kids if kids.count(kid) > 1})
            raise ValueError(f"a kid appears more than once: {', '.join(twice)}")
        return value

    @classmethod
    def seal(cls, key: bytes, recipients: Iterable[tuple[str, bytes]]) -> Envelope:
        """Wrap ``key`` for each recipient: pairs of (kid, raw 32-byte X25519 public key).

        A kid given twice gets one entry (the last key given for it).

        Raises:
            InvalidAssetArgument: no recipients, a key that is not 32 bytes, a kid
                that is not a DID URL, or a public key that is not an X25519 key.
        """
        by_kid = dict(recipients)
        if not by_kid:
            raise InvalidAssetArgument("recipients", [], "an envelope needs a recipient")
        wrapped = [_wrap(key, kid, public_key) for kid, public_key in by_kid.items()]
        return cls(recipients=tuple(sorted(wrapped, key=lambda entry: entry.kid)))

    def with_recipient(self, key: bytes, kid: str, public_key: bytes) -> Envelope:
        """A new envelope that also wraps ``key`` for ``kid`` (replacing its old entry).

        The caller must hold the content key already (an owner :meth:`open`\\ s
        its own entry first); nothing here can check that it is this envelope's.

        Raises:
            InvalidAssetArgument: as for :meth:`seal`.
        """
        entry = _wrap(key, kid, public_key)
        others = [old for old in self.recipients if old.kid != kid]
        return Envelope(recipients=tuple(sorted([*others, entry], key=lambda e: e.kid)))

    @property
    def kids(self) -> tuple[str, ...]:
        """The key ids of the recipients, sorted."""
        return tuple(entry.kid for entry in self.recipients)

    def open(self, private_key: X25519PrivateKey, kid: str | None = None) -> bytes:
        """The content key, unwrapped with a recipient's X25519 private key.

        Args:
            private_key: The recipient's key-agreement private key
                (``Identity.key_agreement()`` for a troika identity).
            kid: The entry to open; None tries every entry.

        Raises:
            NotEntitled: no entry for ``kid``, or (without a kid) none that opens.
            DecryptionError: the entry for ``kid`` does not open with this key.
        """
        if kid is not None:
            entry = next((entry for entry in self.recipients if entry.kid == kid), None)
            if entry is None:
                raise NotEntitled(None, kid)
            key = _unwrap(entry, private_key)
            if key is None:
                raise DecryptionError(
                    f"the content key for {kid!r} does not open with this private key: "
                    "another key, or a tampered envelope"
                )
            return key
        for entry in self.recipients:
            if (key := _unwrap(entry, private_key)) is not None:
                return key
        raise NotEntitled(None, _did_key_of(private_key))

    def to_json(self) -> bytes:
        """Canonical JSON: sorted keys, no spaces, UTF-8."""
        return json.dumps(
            self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes | str) -> Envelope:
        """Parse an envelope's JSON.

        Raises:
            DecryptionError: not an envelope; ``reason`` lists every problem with
                its location.

        Example:
            >>> Envelope.from_json(b'{"version": 2, "recipients": []}')
            Traceback (most recent call last):
            ...
            troika._errors.DecryptionError: cannot decrypt: malformed envelope: version: \
Input should be 1; recipients: Value error, an envelope needs at least one recipient
        """
        try:
            return cls.model_validate_json(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'envelope'}: {error['msg']}"
                for error in exc.errors(include_url=False)
            )
            raise DecryptionError(f"malformed envelope: {problems}") from exc


def _unwrap(entry: WrappedKey, private_key: X25519PrivateKey) -> bytes | None:
    try:
        sealed = _from_b64url(entry.enc)
    except (binascii.Error, ValueError):
        return None
    if len(sealed) != _WRAPPED_SIZE:
        return None
    try:
        return _SUITE.decrypt(sealed, private_key, info=_info(entry.kid))
    except (InvalidTag, ValueError):
        return None


def _did_key_of(private_key: X25519PrivateKey) -> str:
    from troika.did._key import DIDKey

    raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return str(DIDKey("X25519", raw))


# -- the recipient's key, from its DID document -----------------------------------


def _x25519_of(method: VerificationMethod) -> bytes | None:
    """The raw X25519 key of a verification method, or None if it holds none."""
    from troika.ipfs._multiformats import base58btc_decode, multibase_decode, read_varint

    try:
        if method.public_key_multibase is not None:
            _, raw = multibase_decode(method.public_key_multibase)
            code, start = read_varint(raw)
            # Multikey names its codec; the 2020 suite's multibase is the codec-prefixed key too.
            key = raw[start:] if code == _X25519_CODEC else None
        elif method.public_key_jwk is not None:
            jwk = method.public_key_jwk
            is_x25519 = jwk.kty == "OKP" and jwk.crv == "X25519" and jwk.x
            key = _from_b64url(jwk.x) if is_x25519 and jwk.x else None
        elif not method.type.startswith("X25519KeyAgreementKey"):
            key = None
        elif method.public_key_base64 is not None:
            key = base64.b64decode(method.public_key_base64, validate=True)
        elif method.public_key_base58 is not None:
            key = base58btc_decode(method.public_key_base58)
        elif method.public_key_hex is not None:
            key = bytes.fromhex(method.public_key_hex.removeprefix("0x"))
        else:
            key = None
    except (ValueError, binascii.Error):
        return None
    return key if key is not None and len(key) == 32 else None


def key_agreement_key(document: DIDDocument) -> tuple[str, bytes]:
    """The first X25519 key-agreement key of a DID document: (absolute kid, raw 32 bytes).

    Reads ``Multikey`` (``z6LS...``), ``JsonWebKey2020`` (``crv`` X25519) and
    ``X25519KeyAgreementKey2019``/``2020`` methods (multibase, base58, base64 as
    did:ethr publishes it, or hex).

    Raises:
        NoKeyAgreementKey: the document lists no X25519 key under ``keyAgreement``.

    Example:
        >>> from troika.did import DIDKey
        >>> document = DIDKey.parse(
        ...     "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
        ... ).document()
        >>> kid, public_key = key_agreement_key(document)
        >>> kid.rsplit("#", 1)[1], len(public_key)
        ('z6LSj72tK8brWgZja8NLRwPigth2T9QRiG1uH9oKZuKjdh9p', 32)
    """
    for method in document.methods_for("keyAgreement"):
        key = _x25519_of(method)
        if key is not None:
            return document.absolute(method.id), key
    raise NoKeyAgreementKey(document.id)
