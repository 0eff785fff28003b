"""Trace fixtures: sample events, and an in-process server with the trace channel on a
loopback port the OS chooses, its guest held until the test runs it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import trio

from tests.conftest import dts, firmware
from xgdbvm.adapters.resume import Resume, ResumeMode
from xgdbvm.machine.board import MachineConfig
from xgdbvm.machine.machine import Machine
from xgdbvm.machine.stop import StopReason
from xgdbvm.server.app import ServeOptions, Server
from xgdbvm.server.endpoints import TcpEndpoint
from xgdbvm.trace.schema import (
    ConsoleEvent,
    HypercallEnterEvent,
    HypercallExitEvent,
    Record,
    TraceEvent,
    decode_line,
)

TIMEOUT = 60


def sample_events() -> list[TraceEvent]:
    """A short boot as the machine traces it, with one failing call and one decoded one."""
    return [
        ConsoleEvent(
            seq=0,
            pc=0x40080100,
            icount=52_286,
            t_ns=52_286,
            source="uart",
            text="xgdbvm guest: hello from arm64\n",
        ),
        HypercallEnterEvent(
            seq=1,
            pc=0x40081000,
            icount=52_315,
            t_ns=52_315,
            number=17,
            name="xen_version",
            args=(0, 0, 0x4008_7000, 7, 9),
        ),
        HypercallExitEvent(
            seq=2,
            pc=0x40081000,
            icount=52_315,
            t_ns=52_315,
            number=17,
            name="xen_version",
            subop="version",
            ret=0x40013,
        ),
        HypercallEnterEvent(
            seq=3,
            pc=0x40081010,
            icount=61_000,
            t_ns=61_000,
            number=12,
            name="memory_op",
            args=(7, 0x4010_7000, 0, 0, 0),
        ),
        HypercallExitEvent(
            seq=4,
            pc=0x40081010,
            icount=61_002,
            t_ns=61_002,
            number=12,
            name="memory_op",
            subop="add_to_physmap",
            ret=0,
            fields={"space": "shared_info", "idx": 0, "gpfn": 0x40101},
        ),
        HypercallEnterEvent(
            seq=5,
            vcpu=1,
            pc=0x40081020,
            icount=63_117,
            t_ns=63_117,
            number=18,
            name="console_io",
            args=(0, 0x1F, 0x4010_7A70, 0, 0),
        ),
        HypercallExitEvent(
            seq=6,
            vcpu=1,
            pc=0x40081020,
            icount=63_117,
            t_ns=63_117,
            number=18,
            name="console_io",
            subop="write",
            ret=-1,
            errno="EPERM",
            note="not the console domain",
        ),
    ]


def read_jsonl(path: Path) -> list[Record]:
    return [decode_line(line) for line in path.read_text().splitlines() if line.strip()]


@dataclass
class TracedServer:
    server: Server
    address: str
    announcements: list[str]

    @property
    def machine(self) -> Machine:
        return self.server.machine

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.address.rpartition(":")
        return host, int(port)

    async def run_guest(self) -> StopReason:
        return await self.server.runner.run(Resume(ResumeMode.CONTINUE))


@asynccontextmanager
async def traced_server(
    bootargs: str | None = None,
    *,
    arch: str = "arm64",
    trace_file: Path | None = None,
    lossless: bool = False,
    capacity: int | None = None,
) -> AsyncIterator[TracedServer]:
    machine = Machine(
        MachineConfig(arch=arch, image=firmware(arch), dts=dts(arch), bootargs=bootargs)
    )
    announcements: list[str] = []
    server = Server(
        machine,
        ServeOptions(
            trace=TcpEndpoint("127.0.0.1", 0),
            trace_file=trace_file,
            trace_lossless=lossless,
            wait_for_gdb=True,  # the guest waits for run_guest()
        ),
        announcements.append,
    )
    if capacity is not None:
        server.trace.capacity = capacity
    async with trio.open_nursery() as nursery:
        bound = await nursery.start(server.serve)
        assert bound.trace is not None
        yield TracedServer(server, bound.trace, announcements)
        nursery.cancel_scope.cancel()


class Subscriber:
    """A test client of the trace channel over a trio stream."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self._buffer = b""
        self.eof = False

    @classmethod
    async def connect(
        cls, address: tuple[str, int], first_line: str | None = None, *, rcvbuf: int | None = None
    ) -> Subscriber:
        sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_STREAM)
        if rcvbuf is not None:
            sock.setsockopt(trio.socket.SOL_SOCKET, trio.socket.SO_RCVBUF, rcvbuf)
        await sock.connect(address)
        subscriber = cls(trio.SocketStream(sock))
        if first_line is not None:
            await subscriber.stream.send_all(first_line.encode() + b"\n")
        return subscriber

    async def line(self) -> dict[str, object] | None:
        while b"\n" not in self._buffer:
            chunk = await self.stream.receive_some(1 << 16)
            if not chunk:
                self.eof = True
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        obj = json.loads(line)
        assert isinstance(obj, dict)
        return obj

    async def read(self, count: int | None = None) -> list[dict[str, object]]:
        """Lines until EOF, or until ``count`` lines."""
        out: list[dict[str, object]] = []
        while count is None or len(out) < count:
            obj = await self.line()
            if obj is None:
                break
            out.append(obj)
        return out

    async def aclose(self) -> None:
        await self.stream.aclose()
