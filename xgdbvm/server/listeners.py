"""Opening what a server endpoint names: the listeners of ``--gdb``, ``--trace`` and
the xenstore socket.

Sockets are bound with the standard library and handed to Trio afterwards (``adopt``),
so that ``xgdbvm run`` can listen, and say where, before it imports Trio (about 75 ms
here): a client that connects in between waits in the kernel's accept queue and is
served once the server runs. This module must not import Trio at load time.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from xgdbvm.machine.errors import ConfigError
from xgdbvm.server.endpoints import TcpEndpoint, UnixEndpoint

if TYPE_CHECKING:
    import trio

# As trio.open_tcp_listeners: the system's maximum (the kernel caps it at somaxconn).
TCP_BACKLOG = 0xFFFF
GDB_UNIX_BACKLOG = 4  # one GDB client at a time; a few more are told so


class Listening:
    """Sockets bound and listening for one endpoint (not yet Trio's), the address a
    client connects to, and for a Unix socket its path."""

    __slots__ = ("address", "path", "sockets")

    def __init__(self, sockets: Sequence[socket.socket], address: str, path: Path | None) -> None:
        self.sockets = tuple(sockets)
        self.address = address
        self.path = path

    def close(self) -> None:
        """Close the sockets (a no-op for those already closed, such as adopted ones
        whose server ended). The socket file of a Unix socket stays."""
        for sock in self.sockets:
            sock.close()


def listen(
    endpoint: TcpEndpoint | UnixEndpoint, option: str, *, unix_backlog: int = 16
) -> Listening:
    """Listen on ``endpoint`` now (a TCP port 0 resolved), or one ConfigError line naming
    ``option`` when it cannot be listened on."""
    try:
        if isinstance(endpoint, UnixEndpoint):
            path = endpoint.path
            return Listening([private_unix_socket(path, unix_backlog)], str(endpoint), path)
        sockets = tcp_sockets(endpoint)
    except OSError as error:
        raise ConfigError(f"{option}: cannot listen on {endpoint}: {error.strerror}") from None
    host, port = sockets[0].getsockname()[:2]
    return Listening(sockets, str(TcpEndpoint(host, port)), None)


def listen_xenstore(path: Path) -> Listening:
    """The xenstore socket for host tools (mode 0600), or one ConfigError line."""
    try:
        sock = private_unix_socket(path)
    except OSError as error:
        raise ConfigError(f"xenstore socket {path}: {error.strerror}") from None
    return Listening([sock], str(path), path)


def tcp_sockets(endpoint: TcpEndpoint) -> list[socket.socket]:
    """What trio.open_tcp_listeners opens, with the standard library: one listening socket
    per address the host resolves to, SO_REUSEADDR set, IPv6 sockets IPv6-only."""
    host = endpoint.host
    # An ASCII name goes as the bytes the idna codec would make of it: a str would load
    # the codec (and unicodedata, ~2 ms) to spell 127.0.0.1.
    addresses = socket.getaddrinfo(
        host.encode("ascii") if host.isascii() else host,
        endpoint.port,
        type=socket.SOCK_STREAM,
        flags=socket.AI_PASSIVE,
    )
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in addresses:
            try:
                sock = socket.socket(family, kind, proto)
            except OSError as error:
                if error.errno != errno.EAFNOSUPPORT:
                    raise
                continue
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(address)
                sock.listen(TCP_BACKLOG)
            except BaseException:
                sock.close()
                raise
            sockets.append(sock)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    if not sockets:
        raise OSError(errno.EAFNOSUPPORT, os.strerror(errno.EAFNOSUPPORT))
    return sockets


def private_unix_socket(path: Path, backlog: int = 16) -> socket.socket:
    """Listen on ``path`` with mode 0600 from the moment the socket exists.

    A chmod after bind leaves a window in which the umask's mode applies; the
    umask is narrowed around the bind instead (it is process-wide, but the bind
    is one system call and nothing else here creates files concurrently).
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        if path.is_socket():
            path.unlink()
        previous = os.umask(0o177)
        try:
            sock.bind(str(path))
        finally:
            os.umask(previous)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def adopt(listening: Listening) -> list[trio.SocketListener]:
    """Trio listeners over ``listening``'s sockets (which Trio makes non-blocking)."""
    import trio

    return [trio.SocketListener(trio.socket.from_stdlib_socket(s)) for s in listening.sockets]
