"""Node permissions in xenstore's string format and the access rule.

Contract (docs/misc/xenstore.txt, tools/xenstored/core.c perm_for_conn(),
tools/include/xen-tools/xenstore-common.h):

- a node carries one or more entries ``<letter><domid>``; letters ``n`` none,
  ``r`` read, ``w`` write, ``b`` both;
- the first entry names the owner, who always has full access; its letter is
  the access of every domain without an entry of its own;
- a privileged connection (dom0) has full access everywhere;
- an entry matches a connection whose domid equals it, whose target domain
  (XS_SET_TARGET) equals it, or any connection when it is DOMID_ANY
  (0x7FF5, feature bit 8);
- the first matching later entry decides, else the owner entry's letter.

Only the owner (or dom0) may change permissions and only dom0 may change the
owner; that is enforced by the store, not here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntFlag
from typing import Final

from .wire import XenStoreError, XsError, join_strings

DOMID_SELF: Final = 0x7FF0
DOMID_ANY: Final = 0x7FF5
DOMID_MAX: Final = 0xFFFF


class Access(IntFlag):
    """XS_PERM_* bits (tools/include/xenstore_lib.h); OWNER is never spelled on the wire."""

    NONE = 0
    READ = 1
    WRITE = 2
    OWNER = 8


FULL: Final = Access.READ | Access.WRITE | Access.OWNER

_LETTERS: Final = {
    "n": Access.NONE,
    "r": Access.READ,
    "w": Access.WRITE,
    "b": Access.READ | Access.WRITE,
}
_LETTER_OF: Final = {access: letter for letter, access in _LETTERS.items()}


def _parse_domid(text: str) -> int:
    """strtol(…, 0) as xenstored uses it: decimal, ``0x`` hex or leading-0 octal."""
    if not text:
        raise ValueError("empty domid")
    lowered = text.lower()
    if lowered.startswith("0x"):
        value = int(lowered[2:], 16)
    elif len(text) > 1 and text.startswith("0"):
        value = int(text[1:], 8)
    else:
        value = int(text, 10)
    if not 0 <= value <= DOMID_MAX:
        raise ValueError("domid out of range")
    return value


@dataclass(frozen=True, slots=True)
class Perm:
    """One permission entry."""

    domid: int
    access: Access

    @classmethod
    def parse(cls, text: str) -> Perm:
        access = _LETTERS.get(text[:1])
        if access is None:
            raise XenStoreError(XsError.EINVAL, f"bad permission {text!r}")
        try:
            domid = _parse_domid(text[1:])
        except ValueError:
            raise XenStoreError(XsError.EINVAL, f"bad permission {text!r}") from None
        return cls(domid, access)

    def __str__(self) -> str:
        return f"{_LETTER_OF[self.access & ~Access.OWNER]}{self.domid}"

    def matches(self, domid: int, target: int | None) -> bool:
        return self.domid in (domid, DOMID_ANY) or (target is not None and self.domid == target)


@dataclass(frozen=True, slots=True)
class NodePerms:
    """The permission list of one node; never empty."""

    entries: tuple[Perm, ...]

    def __post_init__(self) -> None:
        if not self.entries:
            raise ValueError("a node needs at least the owner entry")

    @classmethod
    def of(cls, *texts: str) -> NodePerms:
        """Build from strings such as ``NodePerms.of("n0", "r5")``."""
        return cls(tuple(Perm.parse(t) for t in texts))

    @classmethod
    def parse(cls, strings: Iterable[bytes]) -> NodePerms:
        entries = tuple(Perm.parse(s.decode("ascii", "replace")) for s in strings)
        if not entries:
            raise XenStoreError(XsError.EINVAL, "no permissions given")
        return cls(entries)

    @property
    def owner(self) -> int:
        return self.entries[0].domid

    def __len__(self) -> int:
        return len(self.entries)

    def texts(self) -> Sequence[str]:
        return [str(p) for p in self.entries]

    def encode(self) -> bytes:
        """The XS_GET_PERMS payload: every entry NUL-terminated."""
        return join_strings(*self.texts())

    def with_owner(self, domid: int) -> NodePerms:
        """The same list with the owner entry re-assigned (creation by a guest)."""
        first = self.entries[0]
        return NodePerms((Perm(domid, first.access), *self.entries[1:]))

    def access_for(self, domid: int, *, privileged: bool, target: int | None = None) -> Access:
        if privileged or self.entries[0].matches(domid, target):
            return FULL
        for entry in self.entries[1:]:
            if entry.matches(domid, target):
                return entry.access
        return self.entries[0].access
