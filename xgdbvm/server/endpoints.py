"""Where a server listens: ``HOST:PORT``, ``unix:PATH`` or ``stdio``.

Loopback is the default and the only thing allowed without ``--allow-remote``:
a GDB stub can read and write all guest memory and run code.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"


class EndpointError(ValueError):
    pass


@dataclass(frozen=True)
class TcpEndpoint:
    host: str
    port: int

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class UnixEndpoint:
    path: Path

    def __str__(self) -> str:
        return f"unix:{self.path}"


@dataclass(frozen=True)
class StdioEndpoint:
    def __str__(self) -> str:
        return "stdio"


Endpoint = TcpEndpoint | UnixEndpoint | StdioEndpoint


def parse_endpoint(text: str, *, stdio_allowed: bool = True) -> Endpoint:
    if text == "stdio":
        if not stdio_allowed:
            raise EndpointError("stdio is only for --gdb")
        return StdioEndpoint()
    if text.startswith("unix:"):
        path = text[len("unix:") :]
        if not path:
            raise EndpointError("unix: needs a socket path")
        return UnixEndpoint(Path(path))
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = "", text
    host = host.strip("[]") or DEFAULT_HOST
    try:
        port = int(port_text)
    except ValueError:
        raise EndpointError(f"{text!r} is not HOST:PORT, unix:PATH or stdio") from None
    if not 0 <= port <= 65535:
        raise EndpointError(f"port {port} is out of range")
    return TcpEndpoint(host, port)
