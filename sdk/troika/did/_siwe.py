"""Sign-In with Ethereum (EIP-4361): create, parse and verify messages, bound to DIDs.

A dapp's backend issues a nonce, the wallet signs the message text with
``personal_sign`` (EIP-191), and the backend verifies the signature and every
field it cares about, each failure with its own error (the ``SIWEError``
family). The signer comes back as its did:pkh; a did:pkh or did:ethr it claims
to be can be checked too. The message is the EIP's ABNF exactly: ``str()`` of
a parsed message is the text that was parsed (with one exception: without a
statement the EIP's ABNF puts two blank lines after the address, and many
wallets send one; both parse, and ``str()`` writes the ABNF's form).
Signatures from contract accounts (ERC-1271) are not verified here.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from troika._errors import (
    InvalidDID,
    InvalidSIWEMessage,
    SIWEChainMismatch,
    SIWEDIDMismatch,
    SIWEDomainMismatch,
    SIWEExpired,
    SIWENonceMismatch,
    SIWENotYetValid,
    SIWESignatureError,
)
from troika.did._did import DID, DIDLike
from troika.did._pkh import is_checksum_address, pkh_did

if TYPE_CHECKING:
    from troika.did._resolver import Resolver

__all__ = ["SIWEMessage", "siwe_nonce", "verify_siwe"]

_HEADER: Final = " wants you to sign in with your Ethereum account:"
_SCHEME = r"[A-Za-z][A-Za-z0-9+\-.]*"
_FIRST = re.compile(rf"(?:(?P<scheme>{_SCHEME})://)?(?P<domain>[^\s/?#]+){re.escape(_HEADER)}")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_URI = re.compile(rf"{_SCHEME}:[^\s]*")
_NONCE = re.compile(r"[A-Za-z0-9]{8,}")
_STATEMENT = re.compile(r"[\x20-\x7e]+")  # printable ASCII: no line breaks
_REQUEST_ID = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@%]*")  # RFC 3986 pchar
_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})"
)  # RFC 3339 date-time
_NONCE_ALPHABET = string.ascii_letters + string.digits


def _parse_time(text: str) -> datetime:
    if not _DATE_TIME.fullmatch(text):
        raise ValueError(f"{text!r} is not an RFC 3339 date-time")
    return datetime.fromisoformat(text.upper().replace("Z", "+00:00"))


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class SIWEMessage:
    """A Sign-In with Ethereum message (EIP-4361), immutable; ``str()`` is its text.

    Times are RFC 3339 strings, kept as written (the signature covers the text).

    Example:
        >>> text = (
        ...     "example.com wants you to sign in with your Ethereum account:\\n"
        ...     "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2\\n\\n"
        ...     "I accept the ExampleOrg Terms of Service: https://example.com/tos\\n\\n"
        ...     "URI: https://example.com/login\\nVersion: 1\\nChain ID: 1\\n"
        ...     "Nonce: 32891756\\nIssued At: 2021-09-30T16:25:24Z"
        ... )
        >>> message = SIWEMessage.parse(text)
        >>> message.domain, message.chain_id, message.nonce
        ('example.com', 1, '32891756')
        >>> str(message) == text
        True
        >>> str(message.did)
        'did:pkh:eip155:1:0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2'
    """

    domain: str
    address: str
    uri: str
    chain_id: int
    nonce: str
    issued_at: str
    statement: str | None = None
    version: str = "1"
    expiration_time: str | None = None
    not_before: str | None = None
    request_id: str | None = None
    resources: tuple[str, ...] = field(default=())
    scheme: str | None = None

    def __post_init__(self) -> None:
        # Every way in (create, parse, the constructor) gives a valid message.
        _check(self)

    @classmethod
    def create(
        cls,
        domain: str,
        address: str,
        uri: str,
        chain_id: int,
        *,
        statement: str | None = None,
        nonce: str | None = None,
        issued_at: str | None = None,
        expiration_time: str | None = None,
        not_before: str | None = None,
        request_id: str | None = None,
        resources: tuple[str, ...] | list[str] = (),
        scheme: str | None = None,
    ) -> SIWEMessage:
        """A new message: a random 17-character nonce and ``issued_at`` now unless given.

        Raises:
            InvalidSIWEMessage: a field breaks the EIP's ABNF (``line`` is the
                field's line in the text).

        Example:
            >>> message = SIWEMessage.create(
            ...     "example.com",
            ...     "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2",
            ...     "https://example.com/login",
            ...     1,
            ...     statement="Sign in to Example",
            ... )
            >>> len(message.nonce), SIWEMessage.parse(str(message)) == message
            (17, True)
        """
        return cls(
            domain=domain,
            address=address,
            uri=uri,
            chain_id=chain_id,
            nonce=nonce if nonce is not None else siwe_nonce(),
            issued_at=issued_at if issued_at is not None else _now_text(),
            statement=statement,
            expiration_time=expiration_time,
            not_before=not_before,
            request_id=request_id,
            resources=tuple(resources),
            scheme=scheme,
        )

    @classmethod
    def parse(cls, text: str) -> SIWEMessage:
        """Parse the text of a message (EIP-4361's ABNF, line by line).

        Raises:
            InvalidSIWEMessage: the text is not a message; ``line`` says where.
        """
        if not isinstance(text, str):
            raise InvalidSIWEMessage(repr(text), 1, "the message is text")
        return _parse(text)

    def __str__(self) -> str:
        origin = f"{self.scheme}://{self.domain}" if self.scheme else self.domain
        lines = [origin + _HEADER, self.address, ""]
        lines += [self.statement, ""] if self.statement is not None else [""]
        lines += [
            f"URI: {self.uri}",
            f"Version: {self.version}",
            f"Chain ID: {self.chain_id}",
            f"Nonce: {self.nonce}",
            f"Issued At: {self.issued_at}",
        ]
        if self.expiration_time is not None:
            lines.append(f"Expiration Time: {self.expiration_time}")
        if self.not_before is not None:
            lines.append(f"Not Before: {self.not_before}")
        if self.request_id is not None:
            lines.append(f"Request ID: {self.request_id}")
        if self.resources:
            lines.append("Resources:")
            lines += [f"- {resource}" for resource in self.resources]
        return "\n".join(lines)

    @property
    def did(self) -> DID:
        """The signer's did:pkh on the message's chain."""
        return pkh_did(self.address, self.chain_id)

    def sign(self, private_key: bytes | str) -> str:
        """The EIP-191 ``personal_sign`` signature of the text, 0x-hex (for tests and tools).

        Example:
            >>> from eth_account import Account
            >>> account = Account.create()
            >>> message = SIWEMessage.create("a.example", account.address, "https://a.example", 1)
            >>> verify_siwe(message, message.sign(account.key)) == message.did
            True
        """
        from eth_account import Account
        from eth_account.messages import encode_defunct

        signed = Account.sign_message(encode_defunct(text=str(self)), private_key)
        return "0x" + bytes(signed.signature).hex()


def siwe_nonce(length: int = 17) -> str:
    """A random alphanumeric nonce (EIP-4361 asks for at least 8 characters)."""
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(length))


# The line of the text each field is on (for errors about a constructed message).
_LINES = {"domain": 1, "address": 2, "statement": 4}


def _check(message: SIWEMessage) -> None:
    def fail(line: int, reason: str) -> None:
        raise InvalidSIWEMessage(str(message.__dict__), line, reason)

    if message.scheme is not None and not re.fullmatch(_SCHEME, message.scheme):
        fail(1, f"{message.scheme!r} is not a URI scheme")
    if not message.domain or not re.fullmatch(r"[^\s/?#]+", message.domain):
        fail(1, f"{message.domain!r} is not an RFC 3986 authority")
    if not _ADDRESS.fullmatch(message.address) or not is_checksum_address(message.address):
        fail(2, f"{message.address!r} is not an EIP-55 checksummed address")
    if message.statement is not None and not _STATEMENT.fullmatch(message.statement):
        fail(4, f"{message.statement!r} is not one line of printable ASCII")
    if not _URI.fullmatch(message.uri):
        fail(6, f"{message.uri!r} is not an RFC 3986 URI")
    if message.version != "1":
        fail(7, f"version {message.version!r} is not '1'")
    if isinstance(message.chain_id, bool) or not isinstance(message.chain_id, int):
        fail(8, f"chain id {message.chain_id!r} is not an integer")
    if message.chain_id < 1:
        fail(8, f"chain id {message.chain_id!r} is not an EIP-155 chain id")
    if not _NONCE.fullmatch(message.nonce):
        fail(9, f"nonce {message.nonce!r} is not 8 or more letters and digits")
    for line, name in ((10, "issued_at"), (11, "expiration_time"), (12, "not_before")):
        value = getattr(message, name)
        if value is not None:
            try:
                _parse_time(value)
            except ValueError as exc:
                fail(line, f"{name}: {exc}")
    if message.request_id is not None and not _REQUEST_ID.fullmatch(message.request_id):
        fail(13, f"request id {message.request_id!r} is not RFC 3986 pchars")
    for resource in message.resources:
        if not isinstance(resource, str) or not _URI.fullmatch(resource):
            fail(14, f"resource {resource!r} is not an RFC 3986 URI")


_OPTIONAL = (
    ("Expiration Time: ", "expiration_time"),
    ("Not Before: ", "not_before"),
    ("Request ID: ", "request_id"),
)
_REQUIRED = (
    ("URI: ", "uri"),
    ("Version: ", "version"),
    ("Chain ID: ", "chain_id"),
    ("Nonce: ", "nonce"),
    ("Issued At: ", "issued_at"),
)


def _parse(text: str) -> SIWEMessage:
    lines = text.split("\n")

    def fail(index: int, reason: str) -> InvalidSIWEMessage:
        return InvalidSIWEMessage(text, index + 1, reason)

    def line(index: int) -> str:
        if index >= len(lines):
            raise fail(index, "the message ends too soon")
        return lines[index]

    first = _FIRST.fullmatch(line(0))
    if first is None:
        raise fail(0, f"expected '<domain>{_HEADER}', got {lines[0]!r}")
    fields: dict[str, object] = {"scheme": first["scheme"], "domain": first["domain"]}
    fields["address"] = line(1)
    if line(2) != "":
        raise fail(2, "expected an empty line after the address")
    statement = line(3)
    if statement == "":  # no statement: the ABNF's form
        index = 4
    elif statement.startswith("URI: ") and line(4).startswith("Version: "):
        index = 3  # no statement, and one blank line, as many wallets send it
    else:
        if line(4) != "":
            raise fail(4, "expected an empty line after the statement")
        fields["statement"] = statement
        index = 5
    for prefix, name in _REQUIRED:
        value = line(index)
        if not value.startswith(prefix):
            raise fail(index, f"expected {prefix.strip()!r}, got {value!r}")
        fields[name] = value[len(prefix) :]
        index += 1
    chain_id = str(fields["chain_id"])
    if not chain_id.isascii() or not chain_id.isdigit():
        raise fail(index - 3, f"chain id {chain_id!r} is not digits")
    fields["chain_id"] = int(chain_id)
    for prefix, name in _OPTIONAL:
        if index < len(lines) and lines[index].startswith(prefix):
            fields[name] = lines[index][len(prefix) :]
            index += 1
    if index < len(lines):
        if lines[index] != "Resources:":
            raise fail(index, f"unexpected line {lines[index]!r}")
        resources = []
        for index in range(index + 1, len(lines)):  # noqa: B020
            if not lines[index].startswith("- "):
                raise fail(index, f"expected '- <resource URI>', got {lines[index]!r}")
            resources.append(lines[index][2:])
        fields["resources"] = tuple(resources)
    try:
        return SIWEMessage(**fields)  # type: ignore[arg-type]  # checked by _check
    except InvalidSIWEMessage as exc:
        raise InvalidSIWEMessage(text, exc.line, str(exc).split(": ", 1)[1]) from None


def _signer(message: SIWEMessage, signature: bytes | str) -> str:
    from eth_account import Account
    from eth_account.messages import encode_defunct

    raw: bytes
    if isinstance(signature, str):
        try:
            raw = bytes.fromhex(signature.removeprefix("0x"))
        except ValueError:
            raise SIWESignatureError(
                message, message.address, None, "the signature is not hex"
            ) from None
    else:
        raw = bytes(signature)
    if len(raw) != 65:
        raise SIWESignatureError(
            message, message.address, None, f"a signature is 65 bytes, not {len(raw)}"
        )
    try:
        recovered: str = Account.recover_message(encode_defunct(text=str(message)), signature=raw)
    except Exception as exc:  # eth_account's errors vary by version: one of ours instead
        raise SIWESignatureError(
            message, message.address, None, f"no key recovers from it ({exc})"
        ) from exc
    return recovered


def verify_siwe(
    message: SIWEMessage | str,
    signature: bytes | str,
    *,
    domain: str | None = None,
    nonce: str | None = None,
    chain_id: int | None = None,
    did: DIDLike | None = None,
    resolver: Resolver | None = None,
    now: datetime | None = None,
) -> DID:
    """Verify a signed message; return the signer's did:pkh.

    Args:
        message: the message, or its text as the wallet signed it.
        signature: the 65-byte EIP-191 signature (``personal_sign``), bytes or 0x-hex.
        domain: the domain the server serves; the message's must be it.
        nonce: the nonce the server issued for this sign-in.
        chain_id: the chain the server expects.
        did: the DID the user signs in as: a did:pkh must be the signer's
            account on the message's chain; a did:ethr must be the signer's
            (with ``resolver``, its current document must list the signer's
            account: an identity whose owner changed signs with the new owner).
        resolver: resolves ``did`` (a did:ethr) when given.
        now: the time to check the message's validity at (now if None).

    Raises:
        InvalidSIWEMessage: ``message`` is text that is not a message.
        SIWESignatureError: the signature is malformed or not the address's.
        SIWEDomainMismatch, SIWENonceMismatch, SIWEChainMismatch: a field is
            not what the server expects.
        SIWEExpired, SIWENotYetValid: outside the message's time bounds.
        SIWEDIDMismatch: the signer is not ``did``.

    Example:
        >>> from datetime import datetime, UTC
        >>> from eth_account import Account
        >>> account = Account.from_key(b"\\x01" * 32)
        >>> message = SIWEMessage.create(
        ...     "example.com", account.address, "https://example.com", 1,
        ...     nonce="abcdefgh12", expiration_time="2030-01-01T00:00:00Z",
        ... )
        >>> signature = message.sign(account.key)
        >>> str(verify_siwe(str(message), signature, domain="example.com", nonce="abcdefgh12"))
        'did:pkh:eip155:1:0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1'
        >>> verify_siwe(message, signature, now=datetime(2031, 1, 1, tzinfo=UTC))
        Traceback (most recent call last):
        ...
        troika._errors.SIWEExpired: the message expired at '2030-01-01T00:00:00Z' (now ...)
    """
    parsed = message if isinstance(message, SIWEMessage) else SIWEMessage.parse(message)
    if domain is not None and parsed.domain != domain:
        raise SIWEDomainMismatch(parsed, domain, parsed.domain)
    if nonce is not None and parsed.nonce != nonce:
        raise SIWENonceMismatch(parsed, nonce, parsed.nonce)
    if chain_id is not None and parsed.chain_id != chain_id:
        raise SIWEChainMismatch(parsed, chain_id, parsed.chain_id)
    moment = now if now is not None else datetime.now(UTC)
    shown = moment.isoformat()
    if parsed.expiration_time is not None and moment >= _parse_time(parsed.expiration_time):
        raise SIWEExpired(parsed, parsed.expiration_time, shown)
    if parsed.not_before is not None and moment < _parse_time(parsed.not_before):
        raise SIWENotYetValid(parsed, parsed.not_before, shown)
    recovered = _signer(parsed, signature)
    if recovered.lower() != parsed.address.lower():
        raise SIWESignatureError(parsed, parsed.address, recovered, f"{recovered!r} signed it")
    if did is not None:
        _check_did(parsed, did, resolver)
    return parsed.did


def _check_did(message: SIWEMessage, did: DIDLike, resolver: Resolver | None) -> None:
    from troika.did._ethr import EthrDID

    address = message.address
    try:
        parsed = DID.parse(did)
    except InvalidDID as exc:
        raise SIWEDIDMismatch(message, str(did), address, str(exc)) from exc
    shown = str(parsed)
    if parsed.method == "pkh":
        if shown.lower() != str(message.did).lower():
            raise SIWEDIDMismatch(
                message, shown, address, f"the signer's did:pkh is {str(message.did)!r}"
            )
        return
    if parsed.method != "ethr":
        raise SIWEDIDMismatch(message, shown, address, "only did:pkh and did:ethr are bound")
    try:
        ethr = EthrDID.parse(parsed)
    except InvalidDID as exc:
        raise SIWEDIDMismatch(message, shown, address, str(exc)) from exc
    if ethr.chain_id is not None and ethr.chain_id != message.chain_id:
        raise SIWEDIDMismatch(
            message,
            shown,
            address,
            f"the DID is on chain {ethr.chain_id}, the message on {message.chain_id}",
        )
    if resolver is None:
        if ethr.address.lower() != address.lower():
            raise SIWEDIDMismatch(message, shown, address, "the DID is another account's")
        return
    result = resolver.resolve(shown)
    document = result.did_document
    if document is None:
        raise SIWEDIDMismatch(message, shown, address, f"it does not resolve ({result.error})")
    if result.did_document_metadata.deactivated:
        raise SIWEDIDMismatch(message, shown, address, "the DID is deactivated")
    accounts = {
        (method.blockchain_account_id or "").rsplit(":", 1)[-1].lower()
        for method in document.methods_for("authentication")
    }
    if address.lower() not in accounts:
        raise SIWEDIDMismatch(message, shown, address, "the DID's document does not list it")
