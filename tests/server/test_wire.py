"""The GDB socket wire: what a lingering receive does at the window's edges."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from xgdbvm.server.wire import LINGER_S, SPIN_S, SocketWire, open_wire, spin_window

TIMEOUT = 10


@asynccontextmanager
async def _wire() -> AsyncIterator[tuple[SocketWire, socket.socket]]:
    """A wire over one end of a socket pair, and the other end as the peer."""
    ours, peer = socket.socketpair()
    stream = trio.SocketStream(trio.socket.from_stdlib_socket(ours))
    wire = open_wire(stream)
    assert isinstance(wire, SocketWire)
    try:
        yield wire, peer
    finally:
        wire.release()
        peer.close()
        await stream.aclose()


async def test_a_lingering_receive_takes_a_packet_that_is_already_there() -> None:
    with trio.fail_after(TIMEOUT):
        async with _wire() as (wire, peer):
            peer.sendall(b"$g#67")
            assert await wire.receive_some(linger=True) == b"$g#67"


async def test_a_peer_slower_than_the_window_is_awaited_without_blocking_others() -> None:
    # Past the linger window the wire parks in Trio, so other tasks run meanwhile.
    with trio.fail_after(TIMEOUT):
        async with _wire() as (wire, peer):
            ticks = 0
            received = b""

            async def ticker() -> None:
                nonlocal ticks
                while not received:
                    ticks += 1
                    await trio.sleep(LINGER_S)

            async def late_peer() -> None:
                await trio.sleep(50 * LINGER_S)
                peer.sendall(b"$?#3f")

            async def receiver() -> None:
                nonlocal received
                received = await wire.receive_some(linger=True)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(ticker)
                nursery.start_soon(late_peer)
                nursery.start_soon(receiver)
            assert received == b"$?#3f"
            assert ticks >= 5


async def test_a_hang_up_while_lingering_is_the_end_of_the_stream() -> None:
    with trio.fail_after(TIMEOUT):
        async with _wire() as (wire, peer):
            peer.close()
            assert await wire.receive_some(linger=True) == b""


def test_the_spin_is_for_a_process_that_has_a_cpu_to_spare() -> None:
    # On one CPU a spinning server would only keep gdb from answering.
    assert spin_window(1) == 0.0
    assert spin_window(2) == SPIN_S > 0


async def test_a_packet_sent_during_the_spin_is_received_at_once() -> None:
    with trio.fail_after(TIMEOUT):
        async with _wire() as (wire, peer):

            def answer_soon() -> None:
                time.sleep(SPIN_S / 10)
                peer.sendall(b"$s#73")

            sender = threading.Thread(target=answer_soon)
            sender.start()
            assert await wire.receive_some(linger=True) == b"$s#73"
            sender.join(TIMEOUT)
