"""An in-process xgdbvm server on a loopback port chosen by the OS."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import trio

from tests.conftest import dts, firmware
from xgdbvm.machine.board import MachineConfig
from xgdbvm.machine.machine import Machine
from xgdbvm.server.app import ServeOptions, Server
from xgdbvm.server.endpoints import TcpEndpoint


@dataclass
class RunningServer:
    server: Server
    host: str
    port: int
    announcements: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def machine(self) -> Machine:
        return self.server.machine


@asynccontextmanager
async def running_server(
    arch: str = "arm64", bootargs: str | None = None, *, wait_for_gdb: bool = True
) -> AsyncIterator[RunningServer]:
    machine = Machine(
        MachineConfig(arch=arch, image=firmware(arch), dts=dts(arch), bootargs=bootargs)
    )
    announcements: list[str] = []
    server = Server(
        machine,
        ServeOptions(gdb=TcpEndpoint("127.0.0.1", 0), wait_for_gdb=wait_for_gdb),
        announcements.append,
    )
    async with trio.open_nursery() as nursery:
        bound = await nursery.start(server.serve)
        assert bound.gdb is not None
        host, _, port = bound.gdb.rpartition(":")
        yield RunningServer(server, host, int(port), announcements)
        nursery.cancel_scope.cancel()


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.01)
