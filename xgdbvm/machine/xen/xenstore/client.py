"""A synchronous in-process client, shaped like libxenstore's calls.

Contract: ``XsClient`` owns one Connection on a XenStore, builds requests,
runs them through ``XenStore.handle`` and drains the connection's output:
the reply is returned (or its error raised as XenStoreError), watch events
are appended to ``events``. It is what the toolstack code and the tests use
to talk to the store without any transport.
"""

from __future__ import annotations

from .connection import Connection
from .perms import NodePerms
from .store import XenStore
from .wire import Message, XenStoreError, XsType, parse_error, request, split_strings


class XsClient:
    def __init__(self, store: XenStore, domid: int = 0, conn: Connection | None = None) -> None:
        self.store = store
        self.conn = conn if conn is not None else store.connect(domid)
        self.events: list[Message] = []
        self._req_id = 0

    def call(self, kind: int, *parts: bytes | str, tx: int = 0, raw_tail: bytes = b"") -> bytes:
        """Send one request and return the reply payload; errors raise XenStoreError."""
        self._req_id = (self._req_id + 1) & 0xFFFF_FFFF
        msg = request(kind, *parts, req_id=self._req_id, tx_id=tx, raw_tail=raw_tail)
        response = self.store.handle(self.conn, msg)
        self._collect()
        reply = response.reply
        if reply.msg_type == XsType.ERROR:
            raise XenStoreError(parse_error(reply.payload))
        return reply.payload

    def _collect(self) -> None:
        # Replies are taken from the Response; only events are kept from the queue.
        for out in self.conn.drain_output():
            if out.msg_type == XsType.WATCH_EVENT:
                self.events.append(out)

    def take_events(self) -> list[tuple[str, bytes]]:
        """Watch events seen so far as (path, token), oldest first; clears the list."""
        self._collect()
        out = []
        for ev in self.events:
            path, token = ev.strings()[:2]
            out.append((path.decode("ascii"), token))
        self.events.clear()
        return out

    # --- libxenstore-shaped helpers ------------------------------------------

    def read(self, path: str, tx: int = 0) -> bytes:
        return self.call(XsType.READ, path, tx=tx)

    def write(self, path: str, value: bytes | str, tx: int = 0) -> None:
        raw = value.encode("ascii") if isinstance(value, str) else value
        self.call(XsType.WRITE, path, tx=tx, raw_tail=raw)

    def mkdir(self, path: str, tx: int = 0) -> None:
        self.call(XsType.MKDIR, path, tx=tx)

    def rm(self, path: str, tx: int = 0) -> None:
        self.call(XsType.RM, path, tx=tx)

    def directory(self, path: str, tx: int = 0) -> list[str]:
        payload = self.call(XsType.DIRECTORY, path, tx=tx)
        return [c.decode("ascii") for c in split_strings(payload)]

    def get_perms(self, path: str, tx: int = 0) -> NodePerms:
        return NodePerms.parse(split_strings(self.call(XsType.GET_PERMS, path, tx=tx)))

    def set_perms(self, path: str, perms: NodePerms, tx: int = 0) -> None:
        self.call(XsType.SET_PERMS, path, *perms.texts(), tx=tx)

    def watch(self, path: str, token: str | bytes, depth: int | None = None) -> None:
        extra = () if depth is None else (str(depth),)
        self.call(XsType.WATCH, path, token, *extra)

    def unwatch(self, path: str, token: str | bytes) -> None:
        self.call(XsType.UNWATCH, path, token)

    def transaction_start(self) -> int:
        return int(self.call(XsType.TRANSACTION_START, "").rstrip(b"\0"))

    def transaction_end(self, tx: int, commit: bool = True) -> None:
        self.call(XsType.TRANSACTION_END, "T" if commit else "F", tx=tx)

    def close(self) -> None:
        self.store.disconnect(self.conn)
