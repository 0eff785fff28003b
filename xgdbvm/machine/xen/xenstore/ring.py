"""The guest ring transport: xenstore over a shared ``xenstore_domain_interface`` page.

Contract (xen/include/public/io/xs_wire.h, docs/misc/xenstore-ring.txt,
tools/xenstored/domain.c readchn()/writechn(), core.c handle_input()):

- page layout: ``req[1024]`` @0 (guest -> server), ``rsp[1024]`` @1024,
  u32 ``req_cons`` @2048, ``req_prod`` @2052, ``rsp_cons`` @2056,
  ``rsp_prod`` @2060, ``server_features`` @2064, ``connection`` @2068,
  ``error`` @2072, ``evtchn_port`` @2076; little endian; indexes are
  free-running u32, byte ``x`` lives at ``x & 1023``;
- the server writes only ``req_cons``, ``rsp_prod``, ``rsp[]``,
  ``server_features`` (bits only ever set), ``connection`` (back to 0 after
  a reconnect) and ``error``;
- ``process(page)`` moves pending output into ``rsp[]``, consumes requests
  from ``req[]`` one message at a time (a message may span several calls),
  answers each through the shared XenStore, and returns whether anything
  the guest can see changed — then the caller signals the store event channel;
- it stops consuming requests while the connection has ``outstanding`` (20)
  replies the guest has not taken yet, as xenstored does; output that does
  not fit waits for the guest to advance ``rsp_cons``;
- ``prod - cons > 1024`` on either ring sets ``error`` = RINGIDX (2); a
  header announcing more than 4096 payload bytes sets PROTO (3). Either way
  the connection's watches, transactions and queued output are dropped and
  the ring is ignored until a reset, like xenstored's ignore_connection().
  An unknown message type is *not* a protocol error: xenstored answers it
  with an ENOSYS error reply and carries on, and so does this transport;
- reset: when the reconnection feature is advertised and the guest sets
  ``connection`` = 1, the transport drops all connection state, zeroes the
  four indexes, fills both rings with 0xff (never a valid header), clears
  ``error`` and sets ``connection`` = 0 — what oxenstored does. ``reset()``
  does the same on the toolstack's behalf.

Each call does bounded work: at most one ring's worth of input is consumed
and at most one ring's worth of output written.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import Final

from xgdbvm.machine.xen.structs import Layout

from .connection import Connection, Quotas
from .store import XenStore
from .wire import MessageDecoder, ProtocolError

XENSTORE_RING_SIZE: Final = 1024
INTERFACE_SIZE: Final = 2080
_MASK32: Final = 0xFFFF_FFFF
_U32: Final = struct.Struct("<I")


class RingOffset(IntEnum):
    REQ = 0
    RSP = 1024
    REQ_CONS = 2048
    REQ_PROD = 2052
    RSP_CONS = 2056
    RSP_PROD = 2060
    SERVER_FEATURES = 2064
    CONNECTION = 2068
    ERROR = 2072
    EVTCHN_PORT = 2076


# The C struct, for parsing snapshots; RingOffset must agree with it (tested).
XENSTORE_DOMAIN_INTERFACE = Layout(
    lambda c: c.Struct(
        "req" / c.Bytes(XENSTORE_RING_SIZE),
        "rsp" / c.Bytes(XENSTORE_RING_SIZE),
        "req_cons" / c.Int32ul,
        "req_prod" / c.Int32ul,
        "rsp_cons" / c.Int32ul,
        "rsp_prod" / c.Int32ul,
        "server_features" / c.Int32ul,
        "connection" / c.Int32ul,
        "error" / c.Int32ul,
        "evtchn_port" / c.Int32ul,
    )
)


class ServerFeature(IntFlag):
    RECONNECTION = 1
    ERROR = 2
    WATCHDEPTH = 4
    DOMID_ANY = 8


class RingConnection(IntEnum):
    CONNECTED = 0
    RECONNECT = 1


class RingError(IntEnum):
    NONE = 0
    COMM = 1
    RINGIDX = 2
    PROTO = 3


@dataclass(frozen=True, slots=True)
class RingState:
    """The control words of a ring page (for tests, traces and monitors)."""

    req_cons: int
    req_prod: int
    rsp_cons: int
    rsp_prod: int
    server_features: int
    connection: int
    error: int
    evtchn_port: int

    @classmethod
    def read(cls, page: bytes | bytearray | memoryview) -> RingState:
        parsed = XENSTORE_DOMAIN_INTERFACE.get().parse(bytes(page[:INTERFACE_SIZE]))
        return cls(
            parsed.req_cons,
            parsed.req_prod,
            parsed.rsp_cons,
            parsed.rsp_prod,
            parsed.server_features,
            parsed.connection,
            parsed.error,
            parsed.evtchn_port,
        )


Page = bytearray | memoryview


def _get(page: Page, field: RingOffset) -> int:
    value: int = _U32.unpack_from(page, field)[0]
    return value


def _put(page: Page, field: RingOffset, value: int) -> None:
    _U32.pack_into(page, field, value & _MASK32)


class _RingFault(Exception):
    def __init__(self, code: RingError) -> None:
        super().__init__(code.name)
        self.code = code


class RingTransport:
    """Serves one guest's xenstore ring on behalf of a shared XenStore."""

    def __init__(self, store: XenStore, domid: int, features: int | None = None) -> None:
        self.store = store
        self.domid = domid
        self.features = ServerFeature(store.features if features is None else features)
        self.conn: Connection = store.connect(domid)
        self.error = RingError.NONE
        self.requests = 0
        self._decoder = MessageDecoder()
        self._out = memoryview(b"")  # unsent tail of the message being written

    def attach(self, page: Page) -> None:
        """Advertise the server features (xenstored does so when it introduces a domain)."""
        _check_size(page)
        self._advertise(page)

    def process(self, page: Page) -> bool:
        """Serve the ring once; True if the guest should be notified."""
        _check_size(page)
        if self.conn.closed:
            return False
        if (
            self.features & ServerFeature.RECONNECTION
            and _get(page, RingOffset.CONNECTION) == RingConnection.RECONNECT
        ):
            self.reset(page)
            return True
        if self.error is not RingError.NONE:
            return False
        try:
            notify = self._flush(page)
            notify |= self._consume(page)
        except _RingFault as fault:
            self._fail(page, fault.code)
            return True
        return notify

    def reset(self, page: Page) -> None:
        """Empty both rings, forget connection state and mark the ring connected."""
        _check_size(page)
        self._drop_state()
        self.error = RingError.NONE
        for field in (
            RingOffset.REQ_CONS,
            RingOffset.REQ_PROD,
            RingOffset.RSP_CONS,
            RingOffset.RSP_PROD,
        ):
            _put(page, field, 0)
        page[RingOffset.REQ : RingOffset.REQ + XENSTORE_RING_SIZE] = b"\xff" * XENSTORE_RING_SIZE
        page[RingOffset.RSP : RingOffset.RSP + XENSTORE_RING_SIZE] = b"\xff" * XENSTORE_RING_SIZE
        _put(page, RingOffset.ERROR, RingError.NONE)
        self._advertise(page)
        _put(page, RingOffset.CONNECTION, RingConnection.CONNECTED)

    # --- internals -------------------------------------------------------

    def _advertise(self, page: Page) -> None:
        # Feature bits are only ever added, never withdrawn.
        current = _get(page, RingOffset.SERVER_FEATURES)
        _put(page, RingOffset.SERVER_FEATURES, current | self.features)

    def _drop_state(self) -> None:
        self.conn.reset()
        self._decoder = MessageDecoder()
        self._out = memoryview(b"")

    def _fail(self, page: Page, code: RingError) -> None:
        if self.features & ServerFeature.ERROR:
            _put(page, RingOffset.ERROR, code)
        self.error = code
        self._drop_state()

    def _consume(self, page: Page) -> bool:
        changed = False
        while not Quotas.reached(self.conn.quotas.outstanding, self.conn.pending_replies):
            cons = _get(page, RingOffset.REQ_CONS)
            avail = (_get(page, RingOffset.REQ_PROD) - cons) & _MASK32
            if avail > XENSTORE_RING_SIZE:
                raise _RingFault(RingError.RINGIDX)
            if avail == 0:
                break
            # Never read past the current message, so backpressure stops at
            # a message boundary and unread requests stay in the guest's ring.
            count = min(avail, self._decoder.wanted())
            data = _read_ring(page, RingOffset.REQ, cons, count)
            _put(page, RingOffset.REQ_CONS, cons + count)
            changed = True
            try:
                messages = self._decoder.feed(data)
            except ProtocolError:
                raise _RingFault(RingError.PROTO) from None
            for msg in messages:
                self.requests += 1
                self.store.handle(self.conn, msg)
            self._flush(page)
        return changed

    def _flush(self, page: Page) -> bool:
        changed = False
        while True:
            if not self._out:
                msg = self.conn.pop_output()
                if msg is None:
                    break
                self._out = memoryview(msg.encode())
            cons = _get(page, RingOffset.RSP_CONS)
            prod = _get(page, RingOffset.RSP_PROD)
            used = (prod - cons) & _MASK32
            if used > XENSTORE_RING_SIZE:
                raise _RingFault(RingError.RINGIDX)
            count = min(XENSTORE_RING_SIZE - used, len(self._out))
            if count == 0:
                break
            _write_ring(page, RingOffset.RSP, prod, self._out[:count])
            _put(page, RingOffset.RSP_PROD, prod + count)
            self._out = self._out[count:]
            changed = True
        return changed


def _check_size(page: Page) -> None:
    if len(page) < INTERFACE_SIZE:
        raise ValueError(f"a xenstore ring page needs {INTERFACE_SIZE} bytes, got {len(page)}")


def _read_ring(page: Page, base: int, index: int, count: int) -> bytes:
    start = index & (XENSTORE_RING_SIZE - 1)
    first = min(count, XENSTORE_RING_SIZE - start)
    head = bytes(page[base + start : base + start + first])
    return head + bytes(page[base : base + count - first])


def _write_ring(page: Page, base: int, index: int, data: memoryview) -> None:
    start = index & (XENSTORE_RING_SIZE - 1)
    first = min(len(data), XENSTORE_RING_SIZE - start)
    page[base + start : base + start + first] = data[:first]
    page[base : base + len(data) - first] = data[first:]
