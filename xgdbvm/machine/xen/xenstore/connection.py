"""Per-connection state and the quotas that bound it.

Contract: one Connection per client (a guest ring or a socket peer) holds its
domid, watches, open transactions and one ordered output queue of replies and
watch events. Transports drain that queue with ``pop_output``; the store fills
it. Replies are never dropped: transports bound them by not reading a new
request while ``pending_replies`` has reached the ``outstanding`` quota
(xenstored's domain_can_read() does the same). Watch events are bounded by
``queued_events``: when full, the *new* event is dropped and counted — what
xenstored does when a domain's memory quota is exhausted — and an event equal
to one still queued is not queued twice (xenstored's send_event()).

Quota defaults are xenstored's (tools/xenstored/domain.c ``quotas[]``): 1000
nodes, 128 watches, 20 outstanding requests, 10 transactions, 1024 nodes
touched per transaction, 5 permission entries, path length 2048, node size
2048 bytes. As there, a quota refuses when the new value would *reach* it
(``value >= quota``) and 0 disables it; xenstored applies them to
unprivileged domains only. Here dom0 connections likewise skip the node,
node-size, permission-count and path-length checks whatever their Quotas
say, but do obey watches (1024), transactions (256), transaction-nodes,
outstanding and queued_events, so a runaway socket client cannot grow the
emulator without bound. ``queued_events`` (256, a plain maximum) replaces xenstored's
2.5 MiB per-domain memory quota: 256 events of at most 4 KiB stay near 1 MiB.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .wire import Message, XsType

if TYPE_CHECKING:
    from .transaction import Transaction
    from .watch import Watch


@dataclass(frozen=True, slots=True)
class Quotas:
    nodes: int = 1000
    watches: int = 128
    outstanding: int = 20
    transactions: int = 10
    transaction_nodes: int = 1024
    permissions: int = 5
    path_max: int = 2048
    node_size: int = 2048
    queued_events: int = 256

    @staticmethod
    def reached(quota: int, value: int) -> bool:
        """xenstored's domain_quota_val_exceeds(): 0 disables, else refuse at ``>= quota``."""
        return quota != 0 and value >= quota


PRIVILEGED_QUOTAS = Quotas(
    nodes=0,
    watches=1024,
    transactions=256,
    transaction_nodes=0,
    permissions=0,
    path_max=0,
    node_size=0,
)


@dataclass(frozen=True, slots=True)
class Limits:
    """Quotas for guests and for dom0 (socket clients and the toolstack)."""

    unprivileged: Quotas = field(default_factory=Quotas)
    privileged: Quotas = PRIVILEGED_QUOTAS

    def for_domid(self, domid: int) -> Quotas:
        return self.privileged if domid == 0 else self.unprivileged


class Connection:
    """One client's view of the store. Created by ``XenStore.connect``."""

    def __init__(self, conn_id: int, domid: int, quotas: Quotas) -> None:
        self.id = conn_id
        self.domid = domid
        self.quotas = quotas
        self.target: int | None = None  # XS_SET_TARGET: act for this domain too
        self.watches: list[Watch] = []
        self.transactions: dict[int, Transaction] = {}
        self.events_dropped = 0
        self.closed = False
        self._next_tx_id = 1
        self._outbox: deque[Message] = deque()
        self._pending_replies = 0
        self._queued_events = 0
        self._queued_payloads: Counter[bytes] = Counter()

    def __repr__(self) -> str:
        return f"<Connection {self.id} dom{self.domid}>"

    @property
    def privileged(self) -> bool:
        # xenstored's priv_domid; a socket peer is dom0.
        return self.domid == 0

    @property
    def pending_replies(self) -> int:
        return self._pending_replies

    @property
    def queued_events(self) -> int:
        return self._queued_events

    def has_output(self) -> bool:
        return bool(self._outbox)

    def queue_reply(self, msg: Message) -> None:
        self._outbox.append(msg)
        self._pending_replies += 1

    def queue_event(self, msg: Message) -> bool:
        """Queue a watch event; False if it was a duplicate or the queue was full."""
        special = msg.payload.startswith(b"@")
        if not special and self._queued_payloads[msg.payload]:
            return False
        # Unlike xenstored's quotas this one is a plain maximum: up to N queued.
        if Quotas.reached(self.quotas.queued_events, self._queued_events):
            self.events_dropped += 1
            return False
        self._outbox.append(msg)
        self._queued_events += 1
        if not special:
            self._queued_payloads[msg.payload] += 1
        return True

    def pop_output(self) -> Message | None:
        """The next message to transmit, in the order the store produced them."""
        if not self._outbox:
            return None
        msg = self._outbox.popleft()
        if msg.msg_type == XsType.WATCH_EVENT:
            self._queued_events -= 1
            left = self._queued_payloads[msg.payload] - 1
            if left > 0:
                self._queued_payloads[msg.payload] = left
            else:
                self._queued_payloads.pop(msg.payload, None)
        else:
            self._pending_replies -= 1
        return msg

    def drain_output(self) -> list[Message]:
        out: list[Message] = []
        while (msg := self.pop_output()) is not None:
            out.append(msg)
        return out

    def allocate_transaction_id(self) -> int:
        """Next free id, never 0 (0 means "no transaction"), wrapping at 2**32."""
        while True:
            tx_id = self._next_tx_id
            self._next_tx_id = (self._next_tx_id + 1) & 0xFFFF_FFFF
            if tx_id != 0 and tx_id not in self.transactions:
                return tx_id

    def reset(self) -> None:
        """Forget watches, transactions and queued output (reset, error, reconnect)."""
        self.watches.clear()
        self.transactions.clear()
        self._outbox.clear()
        self._pending_replies = 0
        self._queued_events = 0
        self._queued_payloads.clear()
