"""The guest's xenstore, as dom0, through the VM's xenstore socket.

The same Unix socket Debian's ``xenstore-read`` uses (``XENSTORED_PATH``), in
xenstored's wire format (``xgdbvm.machine.xen.xenstore.wire``): so an
in-process VM and one served by ``xgdbvm run --xenstore-socket`` are driven
the same way. Paths are absolute (``/local/domain/1/...``; a relative path is
relative to dom0's home); :attr:`XenstoreClient.domain_path` is the guest's.
"""

from __future__ import annotations

import trio

from xgdbvm.machine.xen.xenstore import (
    Message,
    MessageDecoder,
    XsError,
    XsType,
    domain_path,
    parse_error,
    request,
)
from xgdbvm.machine.xen.xenstore.wire import split_strings

DEFAULT_TIMEOUT = 10.0
RECEIVE = 65536


class XenstoreError(Exception):
    """A request the store refused; ``code`` is the errno name's enum (``XsError.ENOENT``)."""

    def __init__(self, path: str, code: XsError) -> None:
        super().__init__(f"{path}: {code.name}")
        self.path = path
        self.code = code


class XenstoreClient:
    """One dom0 connection to a VM's xenstore, opened at the first request."""

    def __init__(self, path: str | None, domid: int = 1, *, timeout: float = DEFAULT_TIMEOUT):
        self.path = path
        self.domid = domid
        self.timeout = timeout
        self._stream: trio.SocketStream | None = None
        self._decoder = MessageDecoder()
        self._pending: list[Message] = []
        self._req_id = 0
        self._lock = trio.Lock()

    @property
    def domain_path(self) -> str:
        """``/local/domain/DOMID``: the guest's home in the store."""
        return domain_path(self.domid)

    async def read(self, path: str) -> str:
        return (await self.request(XsType.READ, path)).decode("utf-8", "replace")

    async def write(self, path: str, value: str | bytes) -> None:
        raw = value.encode() if isinstance(value, str) else value
        await self.request(XsType.WRITE, path, value=raw)

    async def ls(self, path: str) -> list[str]:
        """The names of ``path``'s children."""
        payload = await self.request(XsType.DIRECTORY, path)
        return [c.decode("utf-8", "replace") for c in split_strings(payload)]

    async def rm(self, path: str) -> None:
        await self.request(XsType.RM, path)

    async def exists(self, path: str) -> bool:
        try:
            await self.request(XsType.READ, path)
        except XenstoreError as error:
            if error.code is XsError.ENOENT:
                return False
            raise
        return True

    async def request(self, kind: XsType, path: str, *, value: bytes = b"") -> bytes:
        """One request on ``path``; the reply's payload, or :class:`XenstoreError`."""
        async with self._lock:
            with trio.fail_after(self.timeout):
                stream = await self._connect()
                self._req_id = (self._req_id + 1) & 0xFFFF_FFFF
                message = request(kind, path, req_id=self._req_id, raw_tail=value)
                await stream.send_all(message.encode())
                reply = await self._reply(stream, self._req_id)
        if reply.msg_type == XsType.ERROR:
            raise XenstoreError(path, parse_error(reply.payload))
        return reply.payload

    async def _connect(self) -> trio.SocketStream:
        if self._stream is None:
            if self.path is None:
                raise RuntimeError(
                    "this VM has no xenstore socket (give connect() the xenstore= path)"
                )
            self._stream = await trio.open_unix_socket(self.path)
        return self._stream

    async def _reply(self, stream: trio.SocketStream, req_id: int) -> Message:
        while True:
            for message in self._pending:
                if message.req_id == req_id and message.msg_type != XsType.WATCH_EVENT:
                    self._pending.remove(message)
                    return message
            data = await stream.receive_some(RECEIVE)
            if not data:
                raise XenstoreError(self.path or "(xenstore)", XsError.EIO)
            # Watch events (none are registered here) are dropped with the rest.
            self._pending = [
                m
                for m in (*self._pending, *self._decoder.feed(data))
                if m.msg_type != XsType.WATCH_EVENT
            ]

    async def aclose(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            await trio.aclose_forcefully(stream)
