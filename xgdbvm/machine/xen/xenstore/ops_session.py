"""Handlers for per-connection state: WATCH, UNWATCH, TRANSACTION_START/END, RESET_WATCHES.

Contract (docs/misc/xenstore.txt, tools/xenstored/watch.c do_watch/do_unwatch,
transaction.c do_transaction_start/end, domain.c do_reset_watches):

- WATCH takes ``path\\0token\\0`` plus ``depth\\0`` when the WATCHDEPTH
  feature is on; a duplicate (path, token) is EEXIST; the reply ``OK`` is
  followed by one event for the watched path itself;
- UNWATCH of an unknown (path, token) is ENOENT;
- TRANSACTION_START inside a transaction is EBUSY; ids are per connection,
  never 0; END takes ``T`` (commit) or ``F`` (abort) and always ends the
  transaction, even when the commit fails (EAGAIN: the client retries);
- RESET_WATCHES drops all watches and transactions of the connection.
"""

from __future__ import annotations

from .access import Request
from .connection import Quotas
from .ops_tree import OK, atoi
from .paths import domain_path
from .transaction import Transaction
from .watch import Watch
from .wire import XenStoreError, XsError, watch_event

WATCHDEPTH_FEATURE = 4  # XENSTORE_SERVER_FEATURE_WATCHDEPTH


def do_watch(req: Request) -> bytes:
    strings = req.msg.strings()
    depth: int | None = None
    if len(strings) == 3 and req.store.features & WATCHDEPTH_FEATURE:
        depth = atoi(strings[2])
        if depth < 0:
            raise XenStoreError(XsError.EINVAL, "negative watch depth")
    elif len(strings) != 2:
        raise XenStoreError(XsError.EINVAL, "WATCH needs a path and a token")
    raw_path, token = strings[0], strings[1]
    relative = not raw_path.startswith((b"/", b"@"))
    path = req.path(raw_path, allow_special=True)
    conn = req.conn
    if any(w.path == path and w.token == token for w in conn.watches):
        raise XenStoreError(XsError.EEXIST, "watch already set")
    if Quotas.reached(req.quotas.watches, len(conn.watches) + 1):
        raise XenStoreError(XsError.ENOSPC, "watch quota reached")
    strip = len(domain_path(conn.domid)) + 1 if relative else 0
    watch = Watch(path, token, depth, strip)
    conn.watches.append(watch)
    # Fired once up front so a client need not read the node separately.
    req.after_reply.append(watch_event(watch.event_path(path), token))
    return OK


def do_unwatch(req: Request) -> bytes:
    strings = req.msg.strings()
    if len(strings) != 2:
        raise XenStoreError(XsError.EINVAL, "UNWATCH needs a path and a token")
    path = req.path(strings[0], allow_special=True)
    watches = req.conn.watches
    for i, watch in enumerate(watches):
        if watch.path == path and watch.token == strings[1]:
            del watches[i]
            return OK
    raise XenStoreError(XsError.ENOENT, "no such watch")


def do_transaction_start(req: Request) -> bytes:
    if req.tx is not None:
        raise XenStoreError(XsError.EBUSY, "transactions do not nest")
    conn = req.conn
    if Quotas.reached(req.quotas.transactions, len(conn.transactions) + 1):
        raise XenStoreError(XsError.ENOSPC, "transaction quota reached")
    tx_id = conn.allocate_transaction_id()
    conn.transactions[tx_id] = Transaction(tx_id)
    return b"%d\0" % tx_id


def do_transaction_end(req: Request) -> bytes:
    arg = req.one_arg()
    if arg not in (b"T", b"F"):
        raise XenStoreError(XsError.EINVAL, "expected T or F")
    tx = req.tx
    if tx is None:
        raise XenStoreError(XsError.ENOENT, "no transaction given")
    del req.conn.transactions[tx.id]
    if arg == b"T":
        if tx.failed:
            # xenstored's answer for a transaction an earlier error poisoned.
            raise XenStoreError(XsError.ENOMEM, "transaction failed earlier")
        if tx.node_created and not req.conn.privileged:
            req.store.check_node_quotas(tx.owned_delta)
        req.store.commit(tx)
    return OK


def do_reset_watches(req: Request) -> bytes:
    req.conn.watches.clear()
    req.conn.transactions.clear()
    return OK
