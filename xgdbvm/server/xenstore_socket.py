"""The host's door into the guest's xenstore: a Unix socket in xenstored's protocol.

Debian's xenstore-utils (xenstore-read, -write, -ls, -rm, -watch) work against
it with ``XENSTORED_PATH=PATH``. Every socket client is dom0. Bytes go through
the store's own incremental decoder; a client that breaks the protocol loses
its connection, nothing else does. Watch events the guest causes are picked
up by a short poll of the connection's queue (the store is fed from the
machine's thread, which cannot wake a Trio task cheaply).
"""

from __future__ import annotations

import logging
from pathlib import Path

import trio

from xgdbvm.machine.xen.xenstore import MessageDecoder, ProtocolError
from xgdbvm.machine.xen.xenstored import Xenstored
from xgdbvm.server.listeners import Listening, adopt, listen_xenstore

log = logging.getLogger("xgdbvm.xenstore")

EVENT_POLL = 0.02  # seconds between looks at a watching client's event queue
RECEIVE = 65536


class XenstoreSocketServer:
    """Serves ``where``: a path to listen on, or a socket already listening there
    (``listen_xenstore``). The socket file is removed when serving ends."""

    def __init__(self, xenstored: Xenstored, where: Path | Listening) -> None:
        self._xenstored = xenstored
        self._listening: Listening | None = None
        if isinstance(where, Listening):
            assert where.path is not None  # listen_xenstore's
            self._listening, where = where, where.path
        self.path = where

    async def serve(self, *, task_status: trio.TaskStatus[Path] = trio.TASK_STATUS_IGNORED) -> None:
        listening = self._listening or listen_xenstore(self.path)
        try:
            listeners = adopt(listening)
            task_status.started(self.path)
            await trio.serve_listeners(self._client, listeners)
        finally:
            self.path.unlink(missing_ok=True)

    async def _client(self, stream: trio.abc.Stream) -> None:
        xenstored = self._xenstored
        conn = xenstored.connect()
        decoder = MessageDecoder()
        try:
            async with stream, trio.open_nursery() as nursery:

                async def flush() -> None:
                    out = xenstored.pop_output(conn)
                    if out:
                        await stream.send_all(b"".join(m.encode() for m in out))

                async def events() -> None:
                    while True:
                        await trio.sleep(EVENT_POLL)
                        await flush()

                nursery.start_soon(events)
                while data := await stream.receive_some(RECEIVE):
                    for message in decoder.feed(data):
                        xenstored.handle(conn, message)
                    await flush()
                nursery.cancel_scope.cancel()
        except ProtocolError as error:
            log.info("xenstore client dropped: %s", error)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            xenstored.disconnect(conn)
