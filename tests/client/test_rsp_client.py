"""RspClient against scripted peers on memory streams and loopback sockets."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import pytest
import trio
import trio.testing

from xgdbvm.client import ConnectionClosed, Response, RspClient, RspClientError, console_text
from xgdbvm.rsp import (
    CommandReceived,
    InterruptRequested,
    MonitorCommand,
    ReadMemory,
    RspConnection,
    VCont,
    replies,
)
from xgdbvm.rsp.framing import encode_packet

LIMIT = 5  # seconds; every test is bounded well below this


def pkt(payload: bytes) -> bytes:
    return encode_packet(payload)


class RawPeer:
    """The server end of a memory stream, driven byte by byte by a test."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.buffer = bytearray()

    async def expect(self, data: bytes) -> None:
        while len(self.buffer) < len(data):
            chunk = await self.stream.receive_some()
            assert chunk, f"client closed while we expected {data!r}"
            self.buffer += chunk
        got = bytes(self.buffer[: len(data)])
        del self.buffer[: len(data)]
        assert got == data

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)


def pair() -> tuple[RspClient, RawPeer]:
    client_end, server_end = trio.testing.memory_stream_pair()
    return RspClient(client_end, timeout=LIMIT), RawPeer(server_end)


async def run_with_peer(
    client_side: Callable[[RspClient], Awaitable[None]],
    peer_side: Callable[[RawPeer], Awaitable[None]],
) -> None:
    client, peer = pair()
    with trio.fail_after(LIMIT):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(peer_side, peer)
            await client_side(client)


async def test_request_acks_the_reply() -> None:
    async def peer(p: RawPeer) -> None:
        await p.expect(pkt(b"m1000,4"))
        await p.send(b"+" + pkt(b"deadbeef"))
        await p.expect(b"+")

    async def client(c: RspClient) -> None:
        assert await c.request(b"m1000,4") == b"deadbeef"

    await run_with_peer(client, peer)


async def test_console_packets_are_collected_separately() -> None:
    async def peer(p: RawPeer) -> None:
        await p.expect(pkt(b"qRcmd,68656c70"))
        await p.send(b"+" + pkt(b"O68690a"))
        await p.expect(b"+")
        await p.send(pkt(b"O7468657265"))
        await p.expect(b"+")
        await p.send(pkt(b"OK"))
        await p.expect(b"+")

    async def client(c: RspClient) -> None:
        response = await c.exchange(b"qRcmd,68656c70")
        assert response == Response(b"OK", b"hi\nthere")
        assert c.take_console() == b"hi\nthere"
        assert c.take_console() == b""

    await run_with_peer(client, peer)


async def test_nak_makes_the_client_resend() -> None:
    async def peer(p: RawPeer) -> None:
        await p.expect(pkt(b"g"))
        await p.send(b"-")
        await p.expect(pkt(b"g"))
        await p.send(b"+" + pkt(b"00"))
        await p.expect(b"+")

    async def client(c: RspClient) -> None:
        assert await c.request(b"g") == b"00"

    await run_with_peer(client, peer)


async def test_damaged_reply_is_naked_and_resent() -> None:
    async def peer(p: RawPeer) -> None:
        await p.expect(pkt(b"?"))
        await p.send(b"+$S05#00")
        await p.expect(b"-")
        await p.send(pkt(b"S05"))
        await p.expect(b"+")

    async def client(c: RspClient) -> None:
        assert await c.request(b"?") == b"S05"

    await run_with_peer(client, peer)


async def test_endless_naks_give_up() -> None:
    async def peer(p: RawPeer) -> None:
        for _ in range(9):
            await p.expect(pkt(b"g"))
            await p.send(b"-")

    async def client(c: RspClient) -> None:
        with pytest.raises(RspClientError):
            await c.request(b"g")

    await run_with_peer(client, peer)


async def test_no_ack_mode() -> None:
    async def peer(p: RawPeer) -> None:
        await p.expect(pkt(b"QStartNoAckMode"))
        await p.send(b"+" + pkt(b"OK"))
        await p.expect(b"+")  # the OK is still acknowledged
        await p.expect(pkt(b"m0,1"))  # ... and nothing after it
        await p.send(pkt(b"00"))
        await p.expect(pkt(b"m1,1"))
        await p.send(pkt(b"11"))

    async def client(c: RspClient) -> None:
        assert await c.start_no_ack() == b"OK"
        assert not c.ack_mode
        assert await c.request(b"m0,1") == b"00"
        assert await c.request(b"m1,1") == b"11"

    await run_with_peer(client, peer)


async def test_no_ack_refused_keeps_acking() -> None:
    async def peer(p: RawPeer) -> None:
        await p.expect(pkt(b"QStartNoAckMode"))
        await p.send(b"+" + pkt(b""))
        await p.expect(b"+")

    async def client(c: RspClient) -> None:
        assert await c.start_no_ack() == b""
        assert c.ack_mode

    await run_with_peer(client, peer)


async def test_output_before_the_ack_is_kept() -> None:
    async def peer(p: RawPeer) -> None:
        await p.expect(pkt(b"vCont;c"))
        await p.send(pkt(b"O41"))  # console output racing the ack
        await p.expect(b"+")
        await p.send(b"+")
        await p.send(pkt(b"T05thread:1;"))
        await p.expect(b"+")

    async def client(c: RspClient) -> None:
        await c.send(b"vCont;c")
        assert await c.wait_stop() == b"T05thread:1;"
        assert c.take_console() == b"A"

    await run_with_peer(client, peer)


async def test_interrupt_from_another_task_while_waiting_for_the_stop() -> None:
    async def peer(p: RawPeer) -> None:
        await p.expect(pkt(b"c"))
        await p.send(b"+")
        await p.expect(b"\x03")
        await p.send(pkt(b"T02thread:1;"))
        await p.expect(b"+")

    async def client(c: RspClient) -> None:
        await c.send(b"c")
        async with trio.open_nursery() as nursery:

            async def ctrl_c() -> None:
                await trio.sleep(0.01)
                await c.interrupt()

            nursery.start_soon(ctrl_c)
            assert await c.wait_stop() == b"T02thread:1;"

    await run_with_peer(client, peer)


async def test_wait_stop_times_out() -> None:
    async def peer(p: RawPeer) -> None:
        await p.expect(pkt(b"c"))
        await p.send(b"+")

    async def client(c: RspClient) -> None:
        await c.send(b"c")
        with pytest.raises(trio.TooSlowError):
            await c.wait_stop(timeout=0.05)

    await run_with_peer(client, peer)


async def test_closed_connection_is_reported() -> None:
    async def peer(p: RawPeer) -> None:
        await p.expect(pkt(b"g"))
        await p.stream.aclose()

    async def client(c: RspClient) -> None:
        with pytest.raises(ConnectionClosed):
            await c.request(b"g")

    await run_with_peer(client, peer)


async def test_oversize_reply_is_an_error() -> None:
    client_end, server_end = trio.testing.memory_stream_pair()
    c = RspClient(client_end, timeout=LIMIT, max_reply=8)
    p = RawPeer(server_end)
    with trio.fail_after(LIMIT):
        await p.send(b"+" + pkt(b"0" * 64))
        with pytest.raises(RspClientError):
            await c.request(b"g")


def test_console_text() -> None:
    assert console_text(b"O4142") == b"AB"
    assert console_text(b"OK") is None
    assert console_text(b"O") is None
    assert console_text(b"Ozz") is None
    assert console_text(b"T05") is None


# --- against the real sans-IO server core on sockets ------------------------


async def serve_fake_stub(stream: trio.abc.Stream) -> None:
    """A tiny server on RspConnection: memory reads, monitor, resume and Ctrl-C."""
    conn = RspConnection()
    async with stream:
        while data := await stream.receive_some():
            for event in conn.receive_data(data):
                match event:
                    case CommandReceived(ReadMemory(address, length)):
                        conn.send(
                            replies.memory(bytes((address + i) & 0xFF for i in range(length)))
                        )
                    case CommandReceived(MonitorCommand(text)):
                        conn.send(replies.console_output(f"you said {text}\n"))
                        conn.send(replies.ok())
                    case CommandReceived(VCont()):
                        pass  # running until interrupted
                    case InterruptRequested():
                        conn.send(replies.stop(2))
                    case CommandReceived():
                        conn.send(replies.empty())
            await stream.send_all(conn.data_to_send())


async def session(client: RspClient) -> None:
    assert await client.request(b"m10,4") == b"10111213"
    assert (await client.exchange(b"qRcmd," + b"status".hex().encode())).console == (
        b"you said status\n"
    )
    assert await client.start_no_ack() == b"OK"
    assert (await client.request(b"qSupported:swbreak+")).startswith(b"PacketSize=")
    await client.send(b"vCont;c")
    await client.interrupt()
    assert await client.wait_stop() == b"T02"
    assert await client.request(b"m0,2") == b"0001"


async def test_tcp_loopback_session() -> None:
    with trio.fail_after(LIMIT):
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(
                partial(trio.serve_tcp, host="127.0.0.1"), serve_fake_stub, 0
            )
            port = listeners[0].socket.getsockname()[1]
            async with await RspClient.connect_tcp("127.0.0.1", port, timeout=LIMIT) as client:
                await session(client)
            nursery.cancel_scope.cancel()


async def test_unix_socket_session(tmp_path: Path) -> None:
    path = tmp_path / "gdb.sock"
    with trio.fail_after(LIMIT):
        sock = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
        await sock.bind(str(path))
        sock.listen()
        listener = trio.SocketListener(sock)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.serve_listeners, serve_fake_stub, [listener])
            async with await RspClient.connect_unix(path, timeout=LIMIT) as client:
                await session(client)
            nursery.cancel_scope.cancel()
