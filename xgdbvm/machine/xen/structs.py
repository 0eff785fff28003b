"""construct at the edge: guest structs parsed into frozen dataclasses.

Each guest struct is declared once as a construct ``Struct`` and once as the
dataclass handlers use; ``GuestStruct`` ties them so that handlers never pass
construct ``Container``s around.

A ``Struct`` is declared as a ``Layout``, built the first time it is used: a machine
reads no guest struct before the guest's first hypercall, and importing construct
(which brings pdb, pickle and hashlib) and building every Struct cost ~20 ms of
start-up. ``Layout(lambda c: c.Struct("port" / c.Int32ul))``: ``c`` is construct.

``read_struct`` copies a struct in from a guest virtual address, ``write_struct``
copies the whole struct back, as Xen's ``copy_from_guest``/``__copy_to_guest`` do:
fields the guest passed in come back unchanged, padding included.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, fields
from types import ModuleType
from typing import Any, ClassVar, Self, TypeVar

from xgdbvm.machine.xen.guest import GuestAccess


class Layout:
    """A construct ``Struct``, built by ``build(construct)`` on the first ``get()``.
    (Two threads may both build it the first time: the Structs are equal.)"""

    __slots__ = ("_build", "_struct")

    def __init__(self, build: Callable[[ModuleType], Any]) -> None:
        self._build = build
        self._struct: Any = None

    def get(self) -> Any:  # construct is untyped
        struct = self._struct
        if struct is None:
            import construct

            struct = self._struct = self._build(construct)
        return struct


class GuestStruct:
    """Mixin for a frozen dataclass with a ``LAYOUT`` of the same fields."""

    LAYOUT: ClassVar[Layout]

    @classmethod
    def byte_size(cls) -> int:
        return int(cls.LAYOUT.get().sizeof())

    @classmethod
    def decode(cls, data: bytes) -> Self:
        parsed = cls.LAYOUT.get().parse(data)
        names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        return cls(**{name: parsed[name] for name in names})

    def encode(self) -> bytes:
        values: dict[str, Any] = asdict(self)  # type: ignore[call-overload]
        return bytes(self.LAYOUT.get().build(values))


S = TypeVar("S", bound=GuestStruct)


def read_struct(guest: GuestAccess, struct: type[S], va: int) -> S:
    return struct.decode(guest.read(va, struct.byte_size()))


def write_struct(guest: GuestAccess, va: int, value: GuestStruct) -> None:
    guest.write(va, value.encode())
