"""Keys in Web3 Secret Storage (keystore v3, scrypt) files under the troika home.

A private key exists unencrypted only in memory, inside a :class:`Signer`;
it is never written, logged or shown in a repr.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import Hash32
from eth_utils.address import to_checksum_address

from troika._errors import InvalidKeyName, KeyExists, KeyNotFound, KeystoreError, WrongPassword

__all__ = ["GETH_SCRYPT_N", "KeyInfo", "Keystore", "Signer"]

#: geth's "standard" scrypt cost (N = 2**18, r = 8, p = 1); troika's default.
GETH_SCRYPT_N = 1 << 18

_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")


class Signer:
    """An unlocked account that signs locally. Its key never leaves the object.

    Get one from :meth:`Keystore.unlock` or from a chain's dev accounts.
    """

    __slots__ = ("_account",)

    def __init__(self, account: LocalAccount) -> None:
        self._account = account

    @property
    def address(self) -> str:
        """The checksummed account address."""
        return str(self._account.address)

    def sign_transaction(self, transaction: Mapping[str, Any]) -> bytes:
        """Sign a transaction dict and return the raw signed bytes."""
        signed = self._account.sign_transaction(dict(transaction))
        return bytes(signed.raw_transaction)

    def sign_digest(self, digest: bytes) -> tuple[int, bytes, bytes]:
        """Sign a 32-byte digest as it is, no prefix added; returns ``(v, r, s)``.

        Only for digests that a contract defines (ERC-1056's signed changes,
        EIP-712 hashes): signing a digest somebody else built can authorise
        anything, so never sign one you did not compute yourself.
        """
        if len(digest) != 32:
            raise ValueError(f"a digest is 32 bytes, not {len(digest)}")
        signed = self._account.unsafe_sign_hash(Hash32(digest))
        return int(signed.v), int(signed.r).to_bytes(32, "big"), int(signed.s).to_bytes(32, "big")

    def derive_secret(self, info: bytes, length: int = 32) -> bytes:
        """A secret derived from this account's key for one purpose, named by ``info``.

        HKDF-SHA256 (RFC 5869) over the private key, no salt; the key itself
        never leaves the signer, and different ``info`` give unrelated secrets.
        troika derives an identity's X25519 key-agreement key this way, so the
        keystore holds one secret per identity.
        """
        if not info:
            raise ValueError("derive_secret needs a non-empty info naming the purpose")
        hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info)
        return hkdf.derive(bytes(self._account.key))

    def __repr__(self) -> str:
        return f"Signer(address={self.address!r})"

    def __reduce__(self) -> Any:
        # Pickling would serialise the key: refuse rather than leak it.
        raise TypeError("a Signer holds a private key and cannot be pickled")


@dataclass(frozen=True)
class KeyInfo:
    """What the keystore knows about a key without unlocking it."""

    name: str
    address: str | None  # None if the file does not say (it is optional in v3)
    path: Path


class Keystore:
    """Encrypted keys under ``<home>/keys/<name>.json``.

    Args:
        home: the troika home (``~/.troika`` by default, see the settings).
        scrypt_n: the scrypt cost of new keys; geth's standard ``2**18`` by
            default. Lower it only for throwaway keys in tests.

    Example:
        >>> store = Keystore(tmp_path, scrypt_n=2**10)  # light scrypt: a throwaway key
        >>> info = store.new("alice", "correct horse")
        >>> store.unlock("alice", "correct horse").address == info.address
        True
    """

    def __init__(self, home: str | Path, *, scrypt_n: int = GETH_SCRYPT_N) -> None:
        self.home = Path(home).expanduser()
        self.folder = self.home / "keys"
        self.scrypt_n = scrypt_n

    def __repr__(self) -> str:
        return f"Keystore(home={str(self.home)!r})"

    def _path(self, name: str) -> Path:
        if not _NAME.fullmatch(name):
            raise InvalidKeyName(name)
        return self.folder / f"{name}.json"

    def new(self, name: str, password: str) -> KeyInfo:
        """Create a fresh random key, encrypt it with ``password`` and store it.

        The file is created with mode 0600 (its folder 0700) and never
        overwritten.

        Raises:
            InvalidKeyName: ``name`` cannot be a file name.
            KeyExists: a key of that name exists already.
        """
        return self._store(name, Account.create(), password)

    def import_key(self, name: str, private_key: bytes, password: str) -> KeyInfo:
        """Store an existing 32-byte private key, encrypted with ``password``."""
        try:
            account = Account.from_key(private_key)
        except (ValueError, TypeError) as exc:
            raise KeystoreError(
                f"cannot import key {name!r}: not a valid private key", name
            ) from exc
        return self._store(name, account, password)

    def _store(self, name: str, account: LocalAccount, password: str) -> KeyInfo:
        path = self._path(name)
        if path.exists():
            raise KeyExists(name)
        encrypted = Account.encrypt(account.key, password, kdf="scrypt", iterations=self.scrypt_n)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        # O_EXCL: never overwrite a key, even if one appeared since the check.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as exc:
            raise KeyExists(name) from exc
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(encrypted, handle)
        return KeyInfo(name=name, address=str(account.address), path=path)

    def list(self) -> list[KeyInfo]:
        """Every key in the keystore, sorted by name."""
        if not self.folder.is_dir():
            return []
        return [self._info(p.stem, p) for p in sorted(self.folder.glob("*.json"))]

    def show(self, name: str) -> KeyInfo:
        """The key ``name`` (or the key whose address is ``name``).

        Raises:
            KeyNotFound: there is no such key.
        """
        if name.startswith("0x") and len(name) == 42:
            wanted = name.lower()
            for info in self.list():
                if info.address is not None and info.address.lower() == wanted:
                    return info
            raise KeyNotFound(name, str(self.folder))
        path = self._path(name)
        if not path.is_file():
            raise KeyNotFound(name, str(self.folder))
        return self._info(name, path)

    def unlock(self, name: str, password: str) -> Signer:
        """Decrypt the key ``name`` into a :class:`Signer`.

        Raises:
            KeyNotFound: there is no such key.
            WrongPassword: ``password`` does not decrypt it.
        """
        info = self.show(name)
        keyfile = self._read(info.name, info.path)
        try:
            key = Account.decrypt(keyfile, password)
        except ValueError as exc:
            raise WrongPassword(info.name) from exc
        return Signer(Account.from_key(key))

    def _read(self, name: str, path: Path) -> dict[str, Any]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise KeystoreError(f"key file {str(path)!r} is unreadable: {exc}", name) from exc
        if not isinstance(data, dict) or ("crypto" not in data and "Crypto" not in data):
            raise KeystoreError(f"key file {str(path)!r} is not a keystore v3 file", name)
        return data

    def _info(self, name: str, path: Path) -> KeyInfo:
        data = self._read(name, path)
        address = data.get("address")
        if address is None:  # optional in the spec; known only after unlocking
            return KeyInfo(name=name, address=None, path=path)
        try:
            checksummed = to_checksum_address("0x" + str(address).removeprefix("0x"))
        except ValueError as exc:
            raise KeystoreError(f"key file {str(path)!r} has an invalid address", name) from exc
        return KeyInfo(name=name, address=checksummed, path=path)
