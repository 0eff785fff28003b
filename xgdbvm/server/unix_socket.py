"""Unix-socket listeners that are never, even for an instant, open to other users."""

from __future__ import annotations

import os
from pathlib import Path

import trio


async def private_unix_listener(path: Path, backlog: int = 16) -> trio.SocketListener:
    """Listen on ``path`` with mode 0600 from the moment the socket exists.

    A chmod after bind leaves a window in which the umask's mode applies; the
    umask is narrowed around the bind instead (it is process-wide, but the bind
    is one system call and nothing else here creates files concurrently).
    """
    sock = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
    if path.is_socket():
        path.unlink()
    previous = os.umask(0o177)
    try:
        await sock.bind(str(path))
    finally:
        os.umask(previous)
    sock.listen(backlog)
    return trio.SocketListener(sock)
