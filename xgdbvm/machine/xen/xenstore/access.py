"""One request in flight, and the permission-checked tree primitives handlers use.

Contract (tools/xenstored/core.c get_node_chk_perm(), errno_from_parents(),
construct_node(), create_node(), rm_node()):

- reading or changing an existing node needs the access bits on that node,
  else EACCES;
- a missing node answers ENOENT only if its nearest existing ancestor grants
  the requested access, else EACCES, so a guest learns nothing about trees it
  may not see;
- creating a node creates its missing ancestors too; each new node inherits
  the permissions of its parent, and a new node made by an unprivileged
  domain gets that domain as owner (dom0 keeps the inherited owner);
- creation is refused with ENOSPC when the creating unprivileged domain would
  reach its node quota or any touched node its node-size quota; all checks
  happen before anything is written, so a refused request changes nothing;
- removal is recursive, children first; each removed descendant fires an
  EXACT event, the removed root a SUBTREE event, while the node's
  permissions are still known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .connection import Connection, Quotas
from .node import Node
from .paths import ROOT, basename, canonicalize, child_path, parent
from .perms import Access
from .watch import WatchMatch
from .wire import Message, XenStoreError, XsError

if TYPE_CHECKING:
    from .store import XenStore
    from .transaction import NodeView, Transaction


@dataclass
class Request:
    """Everything a handler needs; handlers return the reply payload or raise."""

    store: XenStore
    conn: Connection
    msg: Message
    tx: Transaction | None
    view: NodeView
    # Messages for this connection that must follow the reply (XS_WATCH's first event).
    after_reply: list[Message] = field(default_factory=list)

    @property
    def quotas(self) -> Quotas:
        return self.conn.quotas

    # --- arguments -------------------------------------------------------

    def one_arg(self) -> bytes:
        """The payload as exactly one NUL-terminated string (xenstored's onearg())."""
        payload = self.msg.payload
        if not payload or payload.find(b"\0") != len(payload) - 1:
            raise XenStoreError(XsError.EINVAL, "expected one argument")
        return payload[:-1]

    def path(self, raw: bytes, *, allow_special: bool = False) -> str:
        max_len = 0 if self.conn.privileged else self.quotas.path_max
        return canonicalize(raw, self.conn.domid, allow_special=allow_special, path_max=max_len)

    # --- permission-checked lookups ----------------------------------------

    def access(self, node: Node) -> Access:
        return node.perms.access_for(
            self.conn.domid, privileged=self.conn.privileged, target=self.conn.target
        )

    def lookup(self, path: str, want: Access) -> Node | None:
        """The node if it exists and ``want`` is granted; None if it is absent."""
        node = self.view.get(path)
        if node is not None:
            if self.access(node) & want != want:
                raise XenStoreError(XsError.EACCES, path)
            return node
        ancestor = path
        while True:
            ancestor = parent(ancestor)
            found = self.view.get(ancestor)
            if found is not None:
                break
            if ancestor == ROOT:
                raise XenStoreError(XsError.EIO, "the root node is missing")
        if not self.access(found) & want:
            raise XenStoreError(XsError.EACCES, path)
        return None

    def require(self, path: str, want: Access) -> Node:
        node = self.lookup(path, want)
        if node is None:
            raise XenStoreError(XsError.ENOENT, path)
        return node

    # --- changes -----------------------------------------------------------

    def check_size(self, node: Node) -> None:
        if not self.conn.privileged and Quotas.reached(self.quotas.node_size, node.size()):
            raise XenStoreError(XsError.ENOSPC, "node too large")

    def replace(self, path: str, node: Node) -> Node:
        self.check_size(node)
        return self.view.put(path, node)

    def create(self, path: str, value: bytes) -> Node:
        """Create ``path`` (known absent) and its missing ancestors."""
        missing = [path]
        anchor_path = parent(path)
        while (anchor := self.view.get(anchor_path)) is None:
            missing.append(anchor_path)
            anchor_path = parent(anchor_path)
        missing.reverse()  # top-down from here on

        conn = self.conn
        if not conn.privileged and Quotas.reached(
            self.quotas.nodes, self.view.owned(conn.domid) + len(missing)
        ):
            raise XenStoreError(XsError.ENOSPC, "node quota reached")
        perms = anchor.perms if conn.privileged else anchor.perms.with_owner(conn.domid)
        new_anchor = anchor.with_child(basename(missing[0]))
        fresh: list[tuple[str, Node]] = []
        for i, new_path in enumerate(missing):
            last = i == len(missing) - 1
            children = () if last else (basename(missing[i + 1]),)
            fresh.append((new_path, Node(value if last else b"", children, perms)))
        for _, node in [(anchor_path, new_anchor), *fresh]:
            self.check_size(node)

        self.view.put(anchor_path, new_anchor)
        stored = new_anchor
        for new_path, node in fresh:
            stored = self.view.put(new_path, node)
        return stored

    def remove(self, path: str) -> None:
        """Delete ``path`` (known present, not the root) and everything below it."""
        parent_path = parent(path)
        parent_node = self.view.get(parent_path)
        if parent_node is None:
            raise XenStoreError(XsError.EINVAL, "parent vanished")
        # Iterative post-order: a deep tree must not exhaust Python's stack.
        order: list[tuple[str, Node]] = []
        stack = [path]
        while stack:
            current = stack.pop()
            node = self.view.get(current)
            if node is None:
                continue
            order.append((current, node))
            stack.extend(child_path(current, c) for c in node.children)
        for current, node in reversed(order):
            self.view.delete(current)
            how = WatchMatch.SUBTREE if current == path else WatchMatch.EXACT
            self.view.fire(current, node, how, None)
        # Shrinking a node never needs a size check.
        self.view.put(parent_path, parent_node.without_child(basename(path)))
