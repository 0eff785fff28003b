"""Opening what a server endpoint names: the listeners of ``--gdb`` and ``--trace``."""

from __future__ import annotations

import trio

from xgdbvm.machine.errors import ConfigError
from xgdbvm.server.endpoints import TcpEndpoint, UnixEndpoint
from xgdbvm.server.unix_socket import private_unix_listener


async def open_listeners(
    endpoint: TcpEndpoint | UnixEndpoint, option: str, *, unix_backlog: int = 16
) -> tuple[list[trio.SocketListener], str]:
    """The listeners and the address they are on (a TCP port 0 resolved), or one
    ConfigError line naming ``option`` when the endpoint cannot be listened on."""
    try:
        if isinstance(endpoint, UnixEndpoint):
            return [await private_unix_listener(endpoint.path, unix_backlog)], str(endpoint)
        listeners = await trio.open_tcp_listeners(endpoint.port, host=endpoint.host)
    except OSError as error:
        raise ConfigError(f"{option}: cannot listen on {endpoint}: {error.strerror}") from None
    host, port = listeners[0].socket.getsockname()[:2]
    return listeners, str(TcpEndpoint(host, port))
