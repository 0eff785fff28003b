"""xenstored for the emulated machine: the store, the guest's ring, dom0 connections.

The store is shared by two threads: the guest's requests arrive on the
machine's worker thread (during its EVTCHNOP_send on the store port), host
tools' requests on the server's thread. ``lock`` serialises every store
access. Watch events for the guest raised by a host write cannot touch the
guest's ring while the vCPU runs, so they are delivered through ``post``,
which the machine runs at its next instruction boundary.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from xgdbvm.machine.xen.backend import Dom0Backend
from xgdbvm.machine.xen.evtchn import EventChannels
from xgdbvm.machine.xen.xenstore import (
    Connection,
    Message,
    Response,
    RingTransport,
    XenStore,
    XenStoreError,
    XsType,
    parse_error,
    populate_dom0,
    populate_domain,
    request,
)
from xgdbvm.machine.xen.xenstore import DomainConfig as StoreDomain

PageView = Callable[[], memoryview | None]
Post = Callable[[Callable[[], None]], None]


class Xenstored:
    def __init__(
        self,
        evtchn: EventChannels,
        backend: Dom0Backend,
        ring_page: PageView,
        domain: StoreDomain,
        post: Post,
        observe: Callable[[int, bool, Message, Message], None] | None = None,
    ) -> None:
        self._evtchn = evtchn
        self._backend = backend
        self._ring_page = ring_page
        self._domain = domain
        self._post = post
        self._observer = observe
        self.lock = threading.RLock()
        self._guest_conn: Connection | None = None
        self.start()

    def start(self) -> None:
        """A fresh store for a freshly built domain (boot and every reset)."""
        with self.lock:
            self._guest_conn = None  # the toolstack populates the new store first
            self.store = XenStore()
            self.store.on_request = self._observe
            populate_dom0(self.store)
            populate_domain(self.store, self._domain)
            self.ring = RingTransport(self.store, self._domain.domid)
            self._guest_conn = self.ring.conn
            page = self._ring_page()
            if page is not None:
                self.ring.attach(page)
        self.backend_port = self._backend.bind(self._domain.store_port, self.serve_guest)

    def _observe(self, conn: Connection, request: Message, reply: Message) -> None:
        if self._observer is not None:
            # The guest's requests arrive on the machine's thread; dom0's may not.
            self._observer(conn.domid, conn is self._guest_conn, request, reply)

    def serve_guest(self) -> None:
        """Process the guest's ring (requests in, replies and watch events out)."""
        page = self._ring_page()
        if page is None:
            return
        with self.lock:
            notify = self.ring.process(page)
        if notify:
            self._backend.notify(self.backend_port)

    # -- dom0 clients (the host socket, monitor commands) ---------------------------------

    def connect(self) -> Connection:
        with self.lock:
            return self.store.connect(0)

    def disconnect(self, conn: Connection) -> None:
        with self.lock:
            self.store.disconnect(conn)

    def handle(self, conn: Connection, message: Message) -> Response:
        with self.lock:
            response = self.store.handle(conn, message)
            guest_events = any(e.connection is self.ring.conn for e in response.events)
        if guest_events:
            self._post(self.serve_guest)
        return response

    def pop_output(self, conn: Connection) -> list[Message]:
        with self.lock:
            return conn.drain_output()

    def request(self, conn: Connection, kind: XsType, *parts: str, value: bytes = b"") -> bytes:
        """One dom0 request (monitor commands); raises XenStoreError on an error reply."""
        response = self.handle(conn, request(kind, *parts, req_id=1, tx_id=0, raw_tail=value))
        with self.lock:
            # The reply travels in the Response; keep only watch events queued.
            conn_events = [m for m in conn.drain_output() if m.msg_type == XsType.WATCH_EVENT]
            for event in conn_events:
                conn.queue_event(event)
        if response.reply.msg_type == XsType.ERROR:
            raise XenStoreError(parse_error(response.reply.payload))
        return response.reply.payload
