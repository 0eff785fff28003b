"""The xenstore daemon core: connections, dispatch, watch delivery, domains.

Contract: ``XenStore.handle(conn, request)`` answers every request with
exactly one reply, queued on ``conn`` and returned in a Response together
with the watch events the request queued on any connection (the caller wakes
those connections' transports). Nothing here does I/O; a ring transport and
a socket server share one XenStore through separate Connections.

Dispatch (tools/xenstored/core.c process_message()): a type outside the
table — unknown numbers, XS_WATCH_EVENT/XS_ERROR sent by a client, the
removed RESTRICT, the optional GET/SET_FEATURE and GET/SET_QUOTA — is
answered ENOSYS; a dom0-only type from a guest EACCES; an unknown non-zero
tx_id ENOENT (WATCH/UNWATCH ignore tx_id); a reply over the payload limit
becomes E2BIG.

Watch delivery (tools/xenstored/watch.c fire_watches(), watch_permitted()):
a watch fires only if the watcher may read the changed node or its parent
(or could read the node before a permission change); dom0 always may.
Events go to the watcher's output queue under the rules in connection.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

from . import ops_domain, ops_session, ops_tree
from .access import Request
from .connection import Connection, Limits, Quotas
from .node import Database, Node
from .paths import parent
from .perms import Access, NodePerms
from .transaction import GlobalView, NodeView, Transaction, TransactionView, commit
from .watch import WatchMatch
from .wire import (
    XENSTORE_PAYLOAD_MAX,
    Message,
    XenStoreError,
    XsError,
    XsType,
    error_reply,
    reply_to,
    watch_event,
)

# XENSTORE_SERVER_FEATURE_*: reconnection 1, error field 2, watch depth 4, DOMID_ANY 8.
DEFAULT_FEATURES: Final = 1 | 2 | 4 | 8


@dataclass(frozen=True, slots=True)
class QueuedEvent:
    """A watch event placed on ``connection``'s output queue."""

    connection: Connection
    message: Message


@dataclass(frozen=True, slots=True)
class Response:
    reply: Message
    events: tuple[QueuedEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class _Handler:
    fn: Callable[[Request], bytes]
    privileged: bool = False  # XS_FLAG_PRIV
    ignores_tx: bool = False  # XS_FLAG_NOTID


_HANDLERS: Final[dict[int, _Handler]] = {
    XsType.CONTROL: _Handler(ops_domain.do_control, privileged=True),
    XsType.DIRECTORY: _Handler(ops_tree.do_directory),
    XsType.READ: _Handler(ops_tree.do_read),
    XsType.GET_PERMS: _Handler(ops_tree.do_get_perms),
    XsType.WATCH: _Handler(ops_session.do_watch, ignores_tx=True),
    XsType.UNWATCH: _Handler(ops_session.do_unwatch, ignores_tx=True),
    XsType.TRANSACTION_START: _Handler(ops_session.do_transaction_start),
    XsType.TRANSACTION_END: _Handler(ops_session.do_transaction_end),
    XsType.INTRODUCE: _Handler(ops_domain.do_introduce, privileged=True),
    XsType.RELEASE: _Handler(ops_domain.do_release, privileged=True),
    XsType.GET_DOMAIN_PATH: _Handler(ops_domain.do_get_domain_path),
    XsType.WRITE: _Handler(ops_tree.do_write),
    XsType.MKDIR: _Handler(ops_tree.do_mkdir),
    XsType.RM: _Handler(ops_tree.do_rm),
    XsType.SET_PERMS: _Handler(ops_tree.do_set_perms),
    XsType.IS_DOMAIN_INTRODUCED: _Handler(ops_domain.do_is_domain_introduced, privileged=True),
    XsType.RESUME: _Handler(ops_domain.do_resume, privileged=True),
    XsType.SET_TARGET: _Handler(ops_domain.do_set_target, privileged=True),
    XsType.RESET_WATCHES: _Handler(ops_session.do_reset_watches),
    XsType.DIRECTORY_PART: _Handler(ops_tree.do_directory_part),
}


class XenStore:
    def __init__(self, limits: Limits | None = None, features: int = DEFAULT_FEATURES) -> None:
        self.limits = limits or Limits()
        self.features = features
        self.db = Database()
        self._connections: dict[int, Connection] = {}
        self._next_conn_id = 1
        self._introduced: dict[int, int] = {0: 0}  # domid -> event channel port
        self._targets: dict[int, int] = {}
        self._events: list[QueuedEvent] = []
        # Told of every request and its reply (the machine's trace of xenstore traffic).
        self.on_request: Callable[[Connection, Message, Message], None] | None = None

    # --- connections -----------------------------------------------------

    def connect(self, domid: int) -> Connection:
        conn = Connection(self._next_conn_id, domid, self.limits.for_domid(domid))
        conn.target = self._targets.get(domid)
        self._next_conn_id += 1
        self._connections[conn.id] = conn
        return conn

    def disconnect(self, conn: Connection) -> None:
        conn.reset()
        conn.closed = True
        self._connections.pop(conn.id, None)

    @property
    def connections(self) -> list[Connection]:
        return list(self._connections.values())

    # --- requests --------------------------------------------------------

    def handle(self, conn: Connection, msg: Message) -> Response:
        """Answer one request from ``conn``."""
        if conn.closed:
            raise ValueError(f"{conn!r} is closed")
        after: list[Message] = []
        with self._collect() as events:
            try:
                reply = self._dispatch(conn, msg, after)
            except XenStoreError as err:
                reply = error_reply(msg, err.code)
            conn.queue_reply(reply)
            for extra in after:
                self._deliver(conn, extra)
        if self.on_request is not None:
            self.on_request(conn, msg, reply)
        return Response(reply, tuple(events))

    def _dispatch(self, conn: Connection, msg: Message, after: list[Message]) -> Message:
        handler = _HANDLERS.get(msg.msg_type)
        if handler is None:
            raise XenStoreError(XsError.ENOSYS, f"type {msg.msg_type}")
        if handler.privileged and not conn.privileged:
            raise XenStoreError(XsError.EACCES, "dom0 only")
        tx: Transaction | None = None
        if not handler.ignores_tx and msg.tx_id != 0:
            tx = conn.transactions.get(msg.tx_id)
            if tx is None:
                raise XenStoreError(XsError.ENOENT, f"transaction {msg.tx_id}")
        view: NodeView = (
            TransactionView(self.db, tx, conn.quotas.transaction_nodes)
            if tx is not None
            else GlobalView(self.db, self._fire_node)
        )
        payload = handler.fn(Request(self, conn, msg, tx, view, after))
        if len(payload) > XENSTORE_PAYLOAD_MAX:
            raise XenStoreError(XsError.E2BIG, "reply too large")
        return reply_to(msg, payload)

    @contextmanager
    def _collect(self) -> Iterator[list[QueuedEvent]]:
        saved = self._events
        self._events = []
        try:
            yield self._events
        finally:
            self._events = saved

    # --- transactions ----------------------------------------------------

    def commit(self, tx: Transaction) -> None:
        commit(tx, self.db, self._fire_node)

    def check_node_quotas(self, delta: Counter[int]) -> None:
        """Refuse a commit that would take an unprivileged domain to its node quota."""
        for domid, added in delta.items():
            quota = self.limits.for_domid(domid).nodes
            if domid != 0 and added > 0 and Quotas.reached(quota, self.db.owned(domid) + added):
                raise XenStoreError(XsError.ENOSPC, f"node quota of domain {domid}")

    # --- watches ---------------------------------------------------------

    def _fire_node(
        self, path: str, node: Node | None, how: WatchMatch, old_perms: NodePerms | None
    ) -> None:
        self._fire(path, path, node, how, old_perms)

    def _fire(
        self,
        event_path: str,
        node_path: str,
        node: Node | None,
        how: WatchMatch,
        old_perms: NodePerms | None,
    ) -> None:
        for conn in self._connections.values():
            if not conn.watches:
                continue
            if not self._may_see(conn, node_path, node, old_perms):
                continue
            for watch in conn.watches:
                if watch.matches(event_path, how):
                    msg_len = len(event_path) - watch.strip + len(watch.token) + 2
                    if msg_len > XENSTORE_PAYLOAD_MAX:
                        continue  # xenstored silently skips over-long events
                    self._deliver(conn, watch_event(watch.event_path(event_path), watch.token))

    def _may_see(
        self, conn: Connection, path: str, node: Node | None, old_perms: NodePerms | None
    ) -> bool:
        def readable(perms: NodePerms) -> bool:
            access = perms.access_for(conn.domid, privileged=conn.privileged, target=conn.target)
            return bool(access & Access.READ)

        if old_perms is not None and readable(old_perms):
            return True
        if node is None:
            node = self.db.get(path)
            if node is None:
                return False
        if readable(node.perms):
            return True
        above = self.db.get(parent(path))
        return above is not None and readable(above.perms)

    def _deliver(self, conn: Connection, msg: Message) -> None:
        if conn.queue_event(msg):
            self._events.append(QueuedEvent(conn, msg))

    def _fire_special(self, name: str, domid: int, *, bare: bool, with_domid: bool) -> None:
        node = self.db.get(name)
        if node is None:
            return
        if bare:
            self._fire(name, name, node, WatchMatch.NODEPTH, None)
        if with_domid:
            self._fire(f"{name}/{domid}", name, node, WatchMatch.DEPTH, None)

    # --- domains ---------------------------------------------------------

    def is_introduced(self, domid: int) -> bool:
        return domid in self._introduced

    def record_introduction(self, domid: int, port: int) -> None:
        """Mark ``domid`` introduced; the first time, fire ``@introduceDomain``."""
        first = domid not in self._introduced
        self._introduced[domid] = port
        if first and domid != 0:
            self._fire_special("@introduceDomain", domid, bare=True, with_domid=True)

    def record_release(self, domid: int) -> None:
        """Forget ``domid``, close its connections and fire ``@releaseDomain``."""
        self._introduced.pop(domid, None)
        self._targets.pop(domid, None)
        for conn in [c for c in self._connections.values() if c.domid == domid]:
            self.disconnect(conn)
        self._fire_special("@releaseDomain", domid, bare=True, with_domid=True)

    def set_target(self, domid: int, target: int) -> None:
        self._targets[domid] = target
        for conn in self._connections.values():
            if conn.domid == domid:
                conn.target = target

    def introduce_domain(self, domid: int, port: int = 0) -> tuple[QueuedEvent, ...]:
        """Toolstack entry point (what XS_INTRODUCE from dom0 does)."""
        with self._collect() as events:
            self.record_introduction(domid, port)
        return tuple(events)

    def release_domain(self, domid: int) -> tuple[QueuedEvent, ...]:
        """Toolstack entry point for domain destruction (XS_RELEASE)."""
        with self._collect() as events:
            self.record_release(domid)
        return tuple(events)
