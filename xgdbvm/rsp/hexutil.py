"""Hex and byte-order helpers shared by the parser and the reply builders.

``int(x, 16)`` is not used on wire data: it accepts signs, ``0x``,
underscores and whitespace, none of which the protocol allows.
"""

from __future__ import annotations

import binascii

_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")

#: Digits in a 64-bit value, the widest number any packet carries.
MAX_HEX_DIGITS = 16


class HexError(ValueError):
    """Wire text that should be hex is not."""


def is_hex(text: bytes) -> bool:
    return bool(text) and all(c in _HEX_DIGITS for c in text)


def parse_hex_int(text: bytes, *, max_digits: int = MAX_HEX_DIGITS) -> int:
    """Parse an unsigned hex number of at most ``max_digits`` significant digits."""
    if not is_hex(text):
        raise HexError(f"not a hex number: {text[:32]!r}")
    if len(text.lstrip(b"0")) > max_digits:
        raise HexError(f"hex number too wide: {text[:32]!r}")
    return int(text, 16)


def hex_encode(data: bytes) -> bytes:
    """Bytes to lowercase hex, as GDB sends and expects."""
    return binascii.hexlify(data)


def hex_decode(text: bytes) -> bytes:
    if len(text) % 2:
        raise HexError("odd number of hex digits")
    if text and not is_hex(text):
        raise HexError(f"not hex data: {text[:32]!r}")
    return binascii.unhexlify(text)


def to_le(value: int, size: int) -> bytes:
    """A register value as target bytes (both ARM profiles here run little endian).

    Negative values wrap, so ``to_le(-1, 4)`` is ``ff ff ff ff``.
    """
    return (value % (1 << (8 * size))).to_bytes(size, "little")


def from_le(data: bytes) -> int:
    return int.from_bytes(data, "little")


def hex_le(value: int, size: int) -> bytes:
    """A register value as it appears in ``g``/``p`` replies."""
    return hex_encode(to_le(value, size))
