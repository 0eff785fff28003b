"""Transactions and the two views request handlers work through.

Contract (docs/misc/xenstore.txt "Transactions", tools/xenstored/transaction.c):

- handlers see the tree through a NodeView: ``GlobalView`` changes the
  committed database and fires watches at once; ``TransactionView`` keeps a
  private copy of every node the transaction touched and queues watch events
  until commit;
- the first access to a node in a transaction records the node's committed
  generation (or its absence). Later reads inside the transaction see that
  snapshot or the transaction's own changes (repeatable reads);
- commit fails with EAGAIN if any node the transaction touched has a
  different committed generation now; otherwise the changed nodes are stored
  in first-access order and the queued watches fire. Since every operation
  reads a node before changing it, this covers read-then-write and
  create-vs-create races, as xenstored's check_gen does;
- a transaction may touch at most ``transaction_nodes`` nodes; exceeding it
  answers ENOSPC and poisons the transaction (commit then fails, as in
  xenstored, with ENOMEM);
- abort just drops the copy: nothing was written to the database.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from .connection import Quotas
from .node import Database, Node
from .perms import NodePerms
from .watch import WatchMatch
from .wire import XenStoreError, XsError

FireWatches = Callable[[str, Node | None, WatchMatch, NodePerms | None], None]


class NodeView(Protocol):
    """What a request handler may do to the tree."""

    def get(self, path: str) -> Node | None: ...

    def put(self, path: str, node: Node) -> Node: ...

    def delete(self, path: str) -> None: ...

    def owned(self, domid: int) -> int: ...

    def fire(
        self, path: str, node: Node | None, how: WatchMatch, old_perms: NodePerms | None
    ) -> None: ...


class GlobalView:
    """Direct access to the committed tree."""

    def __init__(self, db: Database, fire: FireWatches) -> None:
        self._db = db
        self._fire = fire

    def get(self, path: str) -> Node | None:
        return self._db.get(path)

    def put(self, path: str, node: Node) -> Node:
        return self._db.put(path, node)

    def delete(self, path: str) -> None:
        self._db.delete(path)

    def owned(self, domid: int) -> int:
        return self._db.owned(domid)

    def fire(
        self, path: str, node: Node | None, how: WatchMatch, old_perms: NodePerms | None
    ) -> None:
        self._fire(path, node, how, old_perms)


@dataclass(slots=True)
class _Access:
    """What a transaction knows about one node."""

    base_generation: int | None  # committed generation at first access; None = absent
    old_perms: NodePerms | None  # committed perms then, for watch permission at commit
    node: Node | None  # the transaction's current idea of the node
    modified: bool = False
    fire: WatchMatch | None = None


class Transaction:
    def __init__(self, tx_id: int) -> None:
        self.id = tx_id
        self.accessed: dict[str, _Access] = {}
        self.owned_delta: Counter[int] = Counter()
        self.node_created = False
        self.failed = False


class TransactionView:
    def __init__(self, db: Database, tx: Transaction, max_nodes: int) -> None:
        self._db = db
        self._tx = tx
        self._max_nodes = max_nodes

    def _access(self, path: str) -> _Access:
        acc = self._tx.accessed.get(path)
        if acc is not None:
            return acc
        if Quotas.reached(self._max_nodes, len(self._tx.accessed) + 1):
            self._tx.failed = True
            raise XenStoreError(XsError.ENOSPC, "transaction touches too many nodes")
        committed = self._db.get(path)
        acc = _Access(
            base_generation=committed.generation if committed else None,
            old_perms=committed.perms if committed else None,
            node=committed,
        )
        self._tx.accessed[path] = acc
        return acc

    def get(self, path: str) -> Node | None:
        return self._access(path).node

    def put(self, path: str, node: Node) -> Node:
        acc = self._access(path)
        old = acc.node
        if old is None:
            self._tx.node_created = True
        else:
            self._tx.owned_delta[old.owner] -= 1
        self._tx.owned_delta[node.owner] += 1
        acc.node = replace(node, generation=self._db.next_generation())
        acc.modified = True
        return acc.node

    def delete(self, path: str) -> None:
        acc = self._access(path)
        if acc.node is not None:
            self._tx.owned_delta[acc.node.owner] -= 1
        acc.node = None
        acc.modified = True

    def owned(self, domid: int) -> int:
        return self._db.owned(domid) + self._tx.owned_delta[domid]

    def fire(
        self, path: str, node: Node | None, how: WatchMatch, old_perms: NodePerms | None
    ) -> None:
        del node, old_perms  # commit uses the perms recorded at first access
        acc = self._tx.accessed.get(path)
        if acc is None:
            self._tx.failed = True
            return
        # A subtree event supersedes an exact one, never the reverse.
        if acc.fire is None or how is WatchMatch.SUBTREE:
            acc.fire = how


def commit(tx: Transaction, db: Database, fire: FireWatches) -> None:
    """Apply ``tx`` to ``db`` or raise EAGAIN if something it touched changed meanwhile."""
    for path, acc in tx.accessed.items():
        current = db.get(path)
        if (current.generation if current else None) != acc.base_generation:
            raise XenStoreError(XsError.EAGAIN, f"{path} changed during the transaction")
    for path, acc in tx.accessed.items():
        if acc.modified:
            if acc.node is not None:
                db.put(path, acc.node)
            else:
                db.delete(path)
        if acc.fire is not None:
            fire(path, None, acc.fire, acc.old_perms)
