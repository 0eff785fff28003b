"""The gdb-multiarch Python scripts the GDB benchmarks run, one per measurement.

Each script gets a dict P (target, addresses, register names, sizes), attaches
with `target remote`, does its work with every timed step bracketed by
time.perf_counter() inside gdb, and prints `BENCH key value` lines (or
`BENCHERROR message`). The same script runs against xgdbvm and QEMU.

The guest code driven from gdb is the firmware's `hotloop_countdown`
(count in x0/r0, 2 instructions per iteration, needs no hypervisor): the
scripts set the count register, the link register and $pc themselves.
"""

from __future__ import annotations

PRELUDE = r'''
import gdb, threading, time, traceback

def X(command):
    return gdb.execute(command, to_string=True)

def out(key, value):
    print("BENCH %s %r" % (key, value), flush=True)

def reg(name):
    value = gdb.parse_and_eval("$" + name)  # unsigned, whatever type the target gives it
    return int(value) & ((1 << (8 * value.type.sizeof)) - 1)

def enter_hotloop(count):
    """pc = hotloop_countdown, count register = count, lr = the function's return insn."""
    X("set $%s = %d" % (P["count_reg"], count))
    X("set $%s = %d" % (P["lr"], P["ret"]))
    X("set $pc = %d" % P["func"])

def main():
    X("set pagination off")
    X("set confirm off")
    X("set width 0")
    X("set tcp connect-timeout %d" % P["connect_timeout"])
    t0 = time.perf_counter()
    X("target remote " + P["target"])
    out("attach_s", time.perf_counter() - t0)
    body()

'''

EPILOGUE = r"""
try:
    main()
except BaseException as error:  # report, never hang the harness
    print("BENCHERROR %s: %s" % (type(error).__name__, str(error).strip().replace("\n", " ")[:300]),
          flush=True)
"""

STEPI = r"""
def body():
    count = P["big_count"]
    enter_hotloop(count)
    steps = P["steps"]
    c0, t0 = time.process_time(), time.perf_counter()
    X("stepi %d" % steps)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    out("rate", steps / dt)
    out("gdb_ceiling", steps / cpu)  # gdb's own CPU alone: the rate with a zero-time server
    # 1 test-and-branch, then subs/b.ne pairs: the count drops by about steps/2
    out("iterations", count - reg(P["count_reg"]))
"""

# The firmware's mmu scenario, stopped where its MMU is on and its identity map gone.
STEPI_MMU = r"""
def body():
    X("break *%d" % P["mmu_main"])
    X("continue")
    X("delete")
    steps = P["steps"]
    c0, t0 = time.process_time(), time.perf_counter()
    X("stepi %d" % steps)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    out("rate", steps / dt)
    out("gdb_ceiling", steps / cpu)
    out("mmu_on", reg(P["sctlr"]) & 1)
"""

CONTINUE = r"""
def body():
    count = P["big_count"]
    enter_hotloop(count)
    X("break *%d" % P["iter"])
    X("continue")  # first arrival at hotloop_iter, untimed
    before = reg(P["count_reg"])
    n = P["continues"]
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        X("continue")
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    out("rate", n / dt)
    out("gdb_ceiling", n / cpu)
    out("iterations", before - reg(P["count_reg"]))
    out("pc_ok", int(reg("pc") == P["iter"]))
"""

DUMP = r"""
def body():
    start, end = P["dump_start"], P["dump_end"]
    t0 = time.perf_counter()
    X("dump binary memory %s 0x%x 0x%x" % (P["dump_file"], start, end))
    dt = time.perf_counter() - t0
    out("rate", (end - start) / dt / 1e6)
"""

# Two counts N1 < N2, each run to a breakpoint on the function's return instruction.
GUEST_BREAKPOINT = r"""
def body():
    X("break *%d" % P["ret"])
    for tag, count in (("1", P["n1"]), ("2", P["n2"])):
        enter_hotloop(count)
        t0 = time.perf_counter()
        X("continue")
        dt = time.perf_counter() - t0
        if reg("pc") != P["ret"] or reg(P["count_reg"]) != 0:
            raise RuntimeError("stopped at pc 0x%x with count %d, not at the return"
                               % (reg("pc"), reg(P["count_reg"])))
        out("t" + tag, dt)
"""

# No breakpoint at all: free-running, interrupted (Ctrl-C) after d1 and d2 seconds.
GUEST_INTERRUPT = r"""
def body():
    for tag, seconds in (("1", P["d1"]), ("2", P["d2"])):
        count = P["big_count"]
        enter_hotloop(count)
        timer = threading.Timer(seconds, lambda: gdb.post_event(lambda: X("interrupt")))
        t0 = time.perf_counter()
        timer.start()
        X("continue")
        dt = time.perf_counter() - t0
        done = count - reg(P["count_reg"])
        if not P["func"] <= reg("pc") <= P["ret"]:
            raise RuntimeError("interrupted at pc 0x%x, outside hotloop_countdown" % reg("pc"))
        out("t" + tag, dt)
        out("i" + tag, 2 * done)
"""


def script(body: str) -> str:
    return PRELUDE + body + EPILOGUE
