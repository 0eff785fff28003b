"""Tree nodes and the committed database.

Contract: a node is immutable (value bytes, ordered child names, permissions,
generation). Every store of a node stamps it with a fresh value of one global
generation counter, as xenstored does; transactions compare those stamps to
detect conflicts and XS_DIRECTORY_PART reports them so a client can tell a
directory changed between chunks. The database also counts nodes per owner
domain, the figure the "nodes" quota is checked against.

Node size follows xenstored's accounting (struct node_hdr 16 bytes, 8 bytes
per permission entry, value, NUL-terminated child names), so the node-size
quota triggers where it does there.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Final

from .perms import DOMID_ANY, Access, NodePerms, Perm

_NODE_HDR_SIZE: Final = 16
_PERM_SIZE: Final = 8


@dataclass(frozen=True, slots=True)
class Node:
    value: bytes
    children: tuple[str, ...]
    perms: NodePerms
    generation: int = 0

    @property
    def owner(self) -> int:
        return self.perms.owner

    def children_payload(self) -> bytes:
        """Child names each NUL-terminated, in creation order (the XS_DIRECTORY reply)."""
        return b"".join(name.encode("ascii") + b"\0" for name in self.children)

    def size(self) -> int:
        childlen = sum(len(name) + 1 for name in self.children)
        return _NODE_HDR_SIZE + _PERM_SIZE * len(self.perms) + len(self.value) + childlen

    def with_child(self, name: str) -> Node:
        return replace(self, children=(*self.children, name))

    def without_child(self, name: str) -> Node:
        return replace(self, children=tuple(c for c in self.children if c != name))


class Database:
    """The committed tree: path -> Node, plus the generation counter and owner counts."""

    def __init__(self) -> None:
        self._nodes: dict[str, Node] = {}
        self._generation = 0
        self._owned: Counter[int] = Counter()
        self._setup()

    def _setup(self) -> None:
        # The nodes xenstored's setup_structure() creates before any client.
        dom0_only = NodePerms((Perm(0, Access.NONE),))
        self.put("/", Node(b"", ("tool",), dom0_only))
        self.put("/tool", Node(b"", ("xenstored",), dom0_only))
        self.put("/tool/xenstored", Node(b"", (), dom0_only))
        release_perms = NodePerms((Perm(0, Access.NONE), Perm(DOMID_ANY, Access.READ)))
        self.put("@releaseDomain", Node(b"", (), release_perms))
        self.put("@introduceDomain", Node(b"", (), dom0_only))

    def next_generation(self) -> int:
        self._generation += 1
        return self._generation

    def get(self, path: str) -> Node | None:
        return self._nodes.get(path)

    def put(self, path: str, node: Node) -> Node:
        """Store ``node`` under a fresh generation and return what was stored."""
        stored = replace(node, generation=self.next_generation())
        old = self._nodes.get(path)
        if old is not None:
            self._owned[old.owner] -= 1
        self._owned[stored.owner] += 1
        self._nodes[path] = stored
        return stored

    def delete(self, path: str) -> None:
        old = self._nodes.pop(path, None)
        if old is not None:
            self._owned[old.owner] -= 1

    def owned(self, domid: int) -> int:
        """How many nodes ``domid`` owns."""
        return self._owned[domid]

    def __len__(self) -> int:
        return len(self._nodes)

    def paths(self) -> list[str]:
        return list(self._nodes)
