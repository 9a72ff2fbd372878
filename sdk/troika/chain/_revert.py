"""Decode revert data into the custom error it encodes. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

__all__ = ["PANIC_CODES", "decode_revert", "error_selector", "error_signature"]

# Solidity's panic codes (docs: "Panic via assert and Error via require").
PANIC_CODES: Mapping[int, str] = {
    0x00: "generic compiler panic",
    0x01: "assert failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero",
    0x21: "conversion to an invalid enum value",
    0x22: "incorrectly encoded storage byte array",
    0x31: "pop() on an empty array",
    0x32: "array index out of bounds",
    0x41: "too much memory allocated",
    0x51: "call to a zero-initialized internal function",
}

_BUILTIN: tuple[Mapping[str, Any], ...] = (
    {"type": "error", "name": "Error", "inputs": [{"type": "string", "name": "reason"}]},
    {"type": "error", "name": "Panic", "inputs": [{"type": "uint256", "name": "code"}]},
)


def _canonical_type(param: Mapping[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_canonical_type(c) for c in param.get("components", []))
        return f"({inner}){kind[len('tuple') :]}"
    return kind


def error_signature(entry: Mapping[str, Any]) -> str:
    """``TooLarge(uint256,uint256)`` for an ABI error entry."""
    return f"{entry['name']}({','.join(_canonical_type(p) for p in entry.get('inputs', []))})"


def error_selector(entry: Mapping[str, Any]) -> bytes:
    """The 4-byte selector of an ABI error entry."""
    return keccak(text=error_signature(entry))[:4]


def decode_revert(
    data: bytes, errors: Iterable[Mapping[str, Any]]
) -> tuple[str | None, tuple[Any, ...]]:
    """Find which error ``data`` encodes and decode its arguments.

    ``errors`` are ABI error entries; ``Error(string)`` and ``Panic(uint256)``
    are always known. Returns ``(None, ())`` when nothing matches or the data
    is malformed: revert data comes from outside and is never trusted.

    Example:
        >>> decode_revert(bytes.fromhex("4e487b71" + "00" * 31 + "12"), [])
        ('Panic', (18,))
    """
    if len(data) < 4:
        return None, ()
    selector, body = data[:4], data[4:]
    for entry in (*_BUILTIN, *errors):
        if error_selector(entry) != selector:
            continue
        types = [_canonical_type(p) for p in entry.get("inputs", [])]
        try:
            values = abi_decode(types, body) if types else ()
        except (DecodingError, ValueError, OverflowError):
            continue
        return str(entry["name"]), tuple(
            to_checksum_address(value) if kind == "address" else value
            for kind, value in zip(types, values, strict=True)
        )
    return None, ()
