"""Listening sockets opened with the standard library, then adopted by Trio."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import pytest
import trio

from xgdbvm.machine.errors import ConfigError
from xgdbvm.server.endpoints import TcpEndpoint, UnixEndpoint
from xgdbvm.server.listeners import adopt, listen, listen_xenstore


async def test_a_client_that_connected_before_the_adoption_is_accepted() -> None:
    listening = listen(TcpEndpoint("127.0.0.1", 0), "--gdb")
    host, port = listening.address.rsplit(":", 1)
    early = socket.create_connection((host, int(port)))  # queued by the kernel
    try:
        early.sendall(b"hello")
        (listener,) = adopt(listening)
        with trio.fail_after(5):
            async with await listener.accept() as stream:
                assert await stream.receive_some(5) == b"hello"
        await listener.aclose()
    finally:
        early.close()


def test_unix_sockets_are_private_and_replace_a_stale_one(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()
    for listening in (listen(UnixEndpoint(path), "--gdb"), listen_xenstore(path)):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert listening.path == path
        listening.close()


def test_an_address_in_use_is_one_config_error() -> None:
    first = listen(TcpEndpoint("127.0.0.1", 0), "--trace")
    port = int(first.address.rsplit(":", 1)[1])
    try:
        with pytest.raises(ConfigError, match=rf"^--trace: cannot listen on 127\.0\.0\.1:{port}: "):
            listen(TcpEndpoint("127.0.0.1", port), "--trace")
    finally:
        first.close()


def test_a_xenstore_path_that_cannot_be_bound_is_one_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^xenstore socket .*: No such file or directory$"):
        listen_xenstore(tmp_path / "missing" / "xenstored.sock")
