"""The server as a GDB peer sees it, packet by packet (our own RSP client, real sockets)."""

from __future__ import annotations

import trio

from tests.server.conftest import running_server, wait_until
from xgdbvm.client.rsp_client import RspClient
from xgdbvm.machine.events import HypercallExit, Lifecycle
from xgdbvm.rsp.framing import encode_packet
from xgdbvm.rsp.hexutil import hex_encode

TIMEOUT = 10


async def connect(srv) -> RspClient:  # type: ignore[no-untyped-def]
    return await RspClient.connect_tcp(srv.host, srv.port, timeout=TIMEOUT)


def monitor(text: str) -> bytes:
    return b"qRcmd," + hex_encode(text.encode())


async def test_registers_memory_and_errors() -> None:
    async with running_server("arm64") as srv, await connect(srv) as gdb:
        assert (await gdb.request(b"?")).startswith(b"T05")
        g = await gdb.request(b"g")
        assert len(g) == 2 * 788
        assert (await gdb.request(b"p20")) == (0x40080000).to_bytes(8, "little").hex().encode()
        # Memory: mapped, partly mapped, and not mapped at all.
        expected = srv.machine.memory.read(0x40080000, 4).hex().encode()
        assert await gdb.request(b"m40080000,4") == expected
        assert await gdb.request(b"m10000000,10") == b"E0e"
        end = 0x40000000 + 128 * 1024 * 1024
        assert await gdb.request(b"m%x,20" % (end - 8)) == b"00" * 8
        # Writes land in guest memory.
        assert await gdb.request(b"M40001000,4:deadbeef") == b"OK"
        assert srv.machine.memory.read(0x40001000, 4) == bytes.fromhex("deadbeef")
        # Unknown packets get the empty reply, malformed ones an error; the session goes on.
        assert await gdb.request(b"qNoSuchThing") == b""
        assert (await gdb.request(b"mzz,4")).startswith(b"E")
        assert (await gdb.request(b"p9999")).startswith(b"E16")
        assert (await gdb.request(b"?")).startswith(b"T05")


async def test_bad_checksum_is_nacked_and_the_session_continues() -> None:
    async with running_server("arm64") as srv:
        stream = await trio.open_tcp_stream(srv.host, srv.port)
        async with stream:
            await stream.send_all(b"$qC#00")
            with trio.fail_after(TIMEOUT):
                assert await stream.receive_some(1) == b"-"
            await stream.send_all(encode_packet(b"qC"))
            received = b""
            with trio.fail_after(TIMEOUT):
                while b"#" not in received:
                    received += await stream.receive_some(100)
            assert received.startswith(b"+$QC1#")  # no multiprocess: the client did not ask


async def test_monitor_commands() -> None:
    async with running_server("arm64") as srv, await connect(srv) as gdb:
        help_reply = await gdb.exchange(monitor("help"))
        assert help_reply.payload == b"OK"
        text = help_reply.console.decode()
        for word in ("info hypercalls", "reset", "console", "help"):
            assert word in text
        assert (await gdb.request(b"c")).startswith(b"W00")
        hypercalls = (await gdb.exchange(monitor("info hypercalls"))).console.decode()
        assert "xen_version" in hypercalls and "sched_op" in hypercalls
        console = (await gdb.exchange(monitor("console 3"))).console.decode()
        assert console.splitlines()[-1] == "xgdbvm guest: powering off"
        reset = (await gdb.exchange(monitor("reset"))).console.decode()
        assert "0x40080000" in reset
        assert (await gdb.request(b"p20")) == (0x40080000).to_bytes(8, "little").hex().encode()
        unknown = (await gdb.exchange(monitor("frobnicate"))).console.decode()
        assert "unknown command" in unknown


async def test_second_client_is_refused_and_the_first_keeps_working() -> None:
    async with running_server("arm64") as srv, await connect(srv) as first:
        assert (await first.request(b"?")).startswith(b"T05")
        async with await connect(srv) as second:
            reply = await second.request(b"qSupported")
            assert reply.startswith(b"E.") and b"another GDB client" in reply
        assert await first.request(b"qC") == b"QC1"


async def test_disconnect_leaves_the_guest_halted_and_forgets_the_session() -> None:
    async with running_server("arm64", "xgdbvm.test=loop") as srv:
        async with await connect(srv) as gdb:
            await gdb.start_no_ack()
            body = next(
                s.address for s in srv.machine.layout.image.symbols if s.name == "loop_body"
            )
            assert await gdb.request(b"Z0,%x,4" % body) == b"OK"
            # No qSupported was exchanged, so the reply may not name swbreak.
            assert (await gdb.request(b"c")).startswith(b"T05")
            assert srv.machine.cpu.pc == body
        await wait_until(lambda: not srv.server._client_attached)
        assert srv.machine.debug.breakpoints == ()
        assert srv.machine.cpu.pc == body  # halted where it was
        async with await connect(srv) as again:
            # A new session starts in ack mode with nothing inserted.
            assert (await again.request(b"?")).startswith(b"T05")
            assert (await again.request(b"c")).startswith(b"W00")


async def test_ctrl_c_while_running_and_commands_are_refused_meanwhile() -> None:
    async with running_server("arm64", "xgdbvm.test=spin") as srv, await connect(srv) as gdb:
        await gdb.send(b"c")
        await wait_until(lambda: srv.server.runner.running)
        await gdb.interrupt()
        stop = await gdb.wait_stop(timeout=TIMEOUT)
        assert stop.startswith(b"T02")
        assert (await gdb.request(b"?")).startswith(b"T02")


async def test_gdb_resume_is_noted_where_the_user_resumed_before_the_guest_runs() -> None:
    events: list[object] = []

    class Keep:
        def machine_event(self, event: object) -> None:
            events.append(event)

    async with running_server("arm64") as srv, await connect(srv) as gdb:
        srv.machine.observers.subscribe(Keep())
        start = srv.machine.cpu.pc
        assert (await gdb.request(b"s")).startswith(b"T05")  # done inline
        assert (await gdb.request(b"c")).startswith(b"W00")  # inline, then the thread
    marks = [e for e in events if isinstance(e, Lifecycle) and e.kind.startswith("gdb-")]
    assert [(e.kind, e.detail) for e in marks] == [
        ("gdb-resume", "step"),
        ("gdb-stop", "SingleStep"),
        ("gdb-resume", "continue"),
        ("gdb-stop", "Shutdown"),
    ]
    assert marks[0].pc == start and marks[0].icount == 0
    assert marks[1].pc != start
    # Everything the continue made comes between its resume and its stop.
    resumed, stopped = events.index(marks[2]), events.index(marks[3])
    calls = [i for i, e in enumerate(events) if isinstance(e, HypercallExit)]
    assert calls and all(resumed < i < stopped for i in calls)


async def test_a_read_repeated_after_a_step_sees_what_the_step_stored() -> None:
    # Replies to memory reads outlive the step on probation (gdb rereads the code at the
    # pc after every step): one the guest's store changed must be answered anew.
    async with running_server("arm64") as srv, await connect(srv) as gdb:
        assert await gdb.start_no_ack() == b"OK"
        code, data = 0x40100000, 0x40100800
        # str x1, [x0] ; str x1, [x0, #8]
        assert await gdb.request(b"M%x,8:010000f9010400f9" % code) == b"OK"
        for reg, value in ((0x20, code), (0, data), (1, 0x1122334455667788)):
            assert await gdb.request(b"P%x=%s" % (reg, value.to_bytes(8, "little").hex().encode()))
        before = srv.machine.memory.read(data, 16).hex().encode()
        assert await gdb.request(b"m%x,10" % data) == before
        assert await gdb.request(b"m%x,8" % code) == b"010000f9010400f9"
        for stored in (8, 16):
            assert (await gdb.request(b"vCont;s:p1.1")).startswith(b"T05")
            after = await gdb.request(b"m%x,10" % data)
            assert after == srv.machine.memory.read(data, 16).hex().encode()
            assert after[: 2 * stored] == b"8877665544332211" * (stored // 8)
            assert after[2 * stored :] == before[2 * stored :]
            assert await gdb.request(b"m%x,8" % code) == b"010000f9010400f9"


async def test_a_breakpoint_stop_says_which_kind_of_breakpoint_it_was() -> None:
    async with running_server("arm64") as srv, await connect(srv) as gdb:
        await gdb.request(b"qSupported:multiprocess+;swbreak+;hwbreak+", timeout=TIMEOUT)
        first = next(
            s.address for s in srv.machine.layout.image.symbols if s.name == "primary_entry"
        )
        assert await gdb.request(b"Z1,%x,4" % first, timeout=TIMEOUT) == b"OK"
        stop = await gdb.request(b"vCont;c", timeout=TIMEOUT)
        assert stop.startswith(b"T05hwbreak:;20:%s;" % first.to_bytes(8, "little").hex().encode())
        # Both kinds at one address: gdb is told software, as for any breakpoint it wrote.
        code = 0x40100000
        assert await gdb.request(b"M%x,8:1f2003d51f2003d5" % code, timeout=TIMEOUT) == b"OK"  # nops
        for kind in (b"0", b"1"):
            assert await gdb.request(b"Z%s,%x,4" % (kind, code + 4), timeout=TIMEOUT) == b"OK"
        pc = code.to_bytes(8, "little").hex().encode()
        assert await gdb.request(b"P20=%s" % pc, timeout=TIMEOUT) == b"OK"
        stop = await gdb.request(b"vCont;c", timeout=TIMEOUT)
        at = (code + 4).to_bytes(8, "little").hex().encode()
        assert stop.startswith(b"T05swbreak:;20:%s;" % at)
