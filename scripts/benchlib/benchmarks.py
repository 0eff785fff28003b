"""The benchmarks: what each measures, against which reference, with which sizes.

A benchmark is built per architecture as a Case: a list of contenders (xgdbvm
first, then its references), each a function returning named values for one
run, and the rows of the report, each pairing an xgdbvm value with a reference
value. The runner calls the contenders in turn, run after run, so that xgdbvm
and its references alternate and share whatever the machine is doing meanwhile.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchlib import bare_unicorn, gdbscripts, procs, targets
from benchlib.elf import Elf
from benchlib.procs import BenchError
from benchlib.targets import ARCHES, RAM_BASE, Arch
from benchlib.tree import VENV_PYTHON, Tree

MiB = 1 << 20


@dataclass(frozen=True)
class Sizes:
    steps: int
    continues: int
    dump_bytes: int
    hot_n: tuple[int, int]  # hotloop iterations under `xgdbvm run` and bare Unicorn
    hot_gdb_n: tuple[int, int]  # hotloop iterations run to a breakpoint from gdb
    tcg_seconds: tuple[float, float]  # free-running intervals, interrupted from gdb
    hcall_n: tuple[int, int]
    timeout: float  # bound on any one process or gdb session


FULL = Sizes(
    steps=2000, continues=500, dump_bytes=16 * MiB, hot_n=(1_000, 500_000_000),
    hot_gdb_n=(100_000, 20_000_000), tcg_seconds=(0.5, 2.0), hcall_n=(1_000, 20_000),
    timeout=300.0,
)  # fmt: skip
QUICK = Sizes(
    steps=200, continues=50, dump_bytes=1 * MiB, hot_n=(1_000, 50_000_000),
    hot_gdb_n=(1_000, 2_000_000), tcg_seconds=(0.1, 0.4), hcall_n=(100, 5_000),
    timeout=60.0,
)  # fmt: skip


@dataclass
class Ctx:
    tree: Tree
    arch: Arch
    sizes: Sizes
    workdir: Path
    _elf: Elf | None = None

    @property
    def elf_path(self) -> Path:
        return self.tree.elf(self.arch.name)

    @property
    def elf(self) -> Elf:
        if self._elf is None:
            self._elf = Elf(self.elf_path)
        return self._elf

    def tmp(self) -> Path:
        return Path(tempfile.mkdtemp(dir=self.workdir))


@dataclass(frozen=True)
class Contender:
    name: str  # as shown in the table
    measure: Callable[[Ctx], dict[str, float]]


@dataclass(frozen=True)
class Row:
    metric: str
    unit: str
    higher_is_better: bool
    left: tuple[int, str]  # (contender index, value key): the xgdbvm side
    right: tuple[int, str] | None  # the reference, if any


@dataclass(frozen=True)
class Case:
    bench: str
    arch: str
    contenders: list[Contender]
    rows: list[Row]


@dataclass(frozen=True)
class Benchmark:
    name: str
    summary: str
    describe: Callable[[Sizes], str]  # the paragraph for docs/benchmarks.md
    build: Callable[[str], Case]  # arch -> Case
    arches: tuple[str, ...] = ("arm64", "arm32")


# ---------------------------------------------------------------- GDB client benchmarks


def _server(ctx: Ctx, server: str, tmp: Path) -> contextlib.AbstractContextManager[str]:
    if server == "xgdbvm":
        return targets.xgdbvm_server(ctx.tree, ctx.arch, tmp, ctx.sizes.timeout)
    return targets.qemu_server(ctx.arch, ctx.elf_path, tmp, ctx.sizes.timeout)


def _run_gdb(
    ctx: Ctx, server: str, tmp: Path, body: str, extra: dict[str, object]
) -> dict[str, float]:
    """A fresh server, one gdb session running `body`; neither start-up is timed."""
    with _server(ctx, server, tmp) as target:
        params = targets.gdb_params(ctx.arch, ctx.elf, target, ctx.sizes.timeout, **extra)
        return targets.run_gdb_script(ctx.elf_path, body, params, tmp, ctx.sizes.timeout)


def _gdb_measure(
    body: str, server: str, extra: Callable[[Ctx], dict[str, object]]
) -> Callable[[Ctx], dict[str, float]]:
    def measure(ctx: Ctx) -> dict[str, float]:
        return _run_gdb(ctx, server, ctx.tmp(), body, extra(ctx))

    return measure


def _qemu_name(arch: Arch) -> str:
    return f"QEMU {arch.qemu.removeprefix('qemu-system-')} gdbstub"


def _stepi_extra(ctx: Ctx) -> dict[str, object]:
    return {"steps": ctx.sizes.steps}


def _checked_stepi(measure: Callable[[Ctx], dict[str, float]]) -> Callable[[Ctx], dict[str, float]]:
    def checked(ctx: Ctx) -> dict[str, float]:
        values = measure(ctx)
        expected = ctx.sizes.steps // 2
        if abs(values.get("iterations", -1) - expected) > 2:
            raise BenchError(
                f"stepi {ctx.sizes.steps} ran {values.get('iterations')} loop "
                f"iterations, expected about {expected}"
            )
        return values

    return checked


def _gdb_pair(
    arch: Arch,
    body: str,
    extra: Callable[[Ctx], dict[str, object]],
    check: Callable[[Callable[[Ctx], dict[str, float]]], Callable[[Ctx], dict[str, float]]],
) -> list[Contender]:
    return [
        Contender("xgdbvm", check(_gdb_measure(body, "xgdbvm", extra))),
        Contender(_qemu_name(arch), check(_gdb_measure(body, "qemu", extra))),
    ]


def build_stepi(arch_name: str) -> Case:
    contenders = _gdb_pair(ARCHES[arch_name], gdbscripts.STEPI, _stepi_extra, _checked_stepi)
    row = Row("stepi", "steps/s", True, (0, "rate"), (1, "rate"))
    return Case("stepi", arch_name, contenders, [row])


def _continue_extra(ctx: Ctx) -> dict[str, object]:
    return {"continues": ctx.sizes.continues}


def _checked_continue(
    measure: Callable[[Ctx], dict[str, float]],
) -> Callable[[Ctx], dict[str, float]]:
    def checked(ctx: Ctx) -> dict[str, float]:
        values = measure(ctx)
        if values.get("iterations") != ctx.sizes.continues or values.get("pc_ok") != 1:
            raise BenchError(
                f"{ctx.sizes.continues} continues ran {values.get('iterations')} "
                "loop iterations or stopped away from hotloop_iter"
            )
        return values

    return checked


def build_continue(arch_name: str) -> Case:
    arch = ARCHES[arch_name]
    contenders = _gdb_pair(arch, gdbscripts.CONTINUE, _continue_extra, _checked_continue)
    row = Row("continue to a breakpoint", "continues/s", True, (0, "rate"), (1, "rate"))
    return Case("continue", arch_name, contenders, [row])


def _dump_measure(server: str) -> Callable[[Ctx], dict[str, float]]:
    def measure(ctx: Ctx) -> dict[str, float]:
        tmp = ctx.tmp()
        path = tmp / "dump.bin"
        extra = {
            "dump_start": RAM_BASE,
            "dump_end": RAM_BASE + ctx.sizes.dump_bytes,
            "dump_file": str(path),
        }
        values = _run_gdb(ctx, server, tmp, gdbscripts.DUMP, extra)
        # check what came back: the right size, and the ELF's first loaded bytes in place
        data = path.read_bytes() if path.exists() else b""
        path.unlink(missing_ok=True)
        if len(data) != ctx.sizes.dump_bytes:
            raise BenchError(f"dump wrote {len(data)} bytes, not {ctx.sizes.dump_bytes}")
        vaddr, _, filesz = ctx.elf.segments[0]
        length, offset = min(filesz, 4096), vaddr - RAM_BASE
        if offset + length <= len(data) and data[offset : offset + length] != ctx.elf.read(
            vaddr, length
        ):
            raise BenchError(f"dumped bytes at 0x{vaddr:x} differ from the ELF")
        return values

    return measure


def build_dump(arch_name: str) -> Case:
    arch = ARCHES[arch_name]
    contenders = [
        Contender("xgdbvm", _dump_measure("xgdbvm")),
        Contender(_qemu_name(arch), _dump_measure("qemu")),
    ]
    row = Row("dump binary memory", "MB/s", True, (0, "rate"), (1, "rate"))
    return Case("dump", arch_name, contenders, [row])


def _attach_measure(server: str) -> Callable[[Ctx], dict[str, float]]:
    def measure(ctx: Ctx) -> dict[str, float]:
        tmp = ctx.tmp()
        with _server(ctx, server, tmp) as target:
            return {"ms": 1000 * targets.attach_time(ctx.elf_path, target, ctx.sizes.timeout)}

    return measure


def build_attach(arch_name: str) -> Case:
    arch = ARCHES[arch_name]
    contenders = [
        Contender("xgdbvm", _attach_measure("xgdbvm")),
        Contender(_qemu_name(arch), _attach_measure("qemu")),
    ]
    row = Row("gdb start to first register", "ms", False, (0, "ms"), (1, "ms"))
    return Case("attach", arch_name, contenders, [row])


# ---------------------------------------------------------------- guest speed


SUMMARY = re.compile(r"xgdbvm: guest shutdown: poweroff .*?; (\d+) instructions")


def _xgdbvm_run(
    ctx: Ctx, *args: str, expect: str | None = None, rss_file: Path | None = None
) -> procs.Finished:
    argv = [*ctx.tree.xgdbvm(), "run", "--arch", ctx.arch.name, *args]
    if rss_file is not None:
        argv = procs.rss_wrapped(argv, rss_file)
    done = procs.run_timed(
        argv, timeout=ctx.sizes.timeout, env=ctx.tree.env(), cwd=ctx.tree.root, tmpdir=ctx.tmp()
    )
    if done.returncode != 0:
        tail = (done.stderr.strip() or "(no output)").splitlines()[-1]
        raise BenchError(f"xgdbvm run exited with status {done.returncode}: {tail[:200]}")
    if expect is not None and expect not in done.stdout:
        raise BenchError(f"xgdbvm run did not print {expect!r}")
    return done


def _instructions(done: procs.Finished) -> int | None:
    match = SUMMARY.search(done.stderr)
    return int(match.group(1)) if match else None


def _net_rate(work: tuple[float, float], seconds: tuple[float, float]) -> float:
    if seconds[1] <= seconds[0]:
        raise BenchError(
            f"the larger run was not slower ({seconds[1]:.3f} s <= {seconds[0]:.3f} s)"
        )
    return (work[1] - work[0]) / (seconds[1] - seconds[0])


def guest_xgdbvm_run(ctx: Ctx) -> dict[str, float]:
    n1, n2 = ctx.sizes.hot_n
    runs = [
        _xgdbvm_run(
            ctx,
            "--bootargs",
            f"xgdbvm.test=hotloop xgdbvm.n={n}",
            expect=f"hotloop: {n} iterations",
        )
        for n in (n1, n2)
    ]
    insns = [_instructions(r) for r in runs]
    delta = 2 * (n2 - n1)
    # xgdbvm's own count agrees, give or take the printing of a longer N at the end
    if insns[0] is not None and insns[1] is not None and abs(insns[1] - insns[0] - delta) > 5000:
        raise BenchError(f"xgdbvm counted {insns[1] - insns[0]} instructions for {delta}")
    return {"mips": _net_rate((0, delta), (runs[0].wall, runs[1].wall)) / 1e6}


def guest_bare_unicorn(ctx: Ctx) -> dict[str, float]:
    n1, n2 = ctx.sizes.hot_n
    t1, t2 = bare_unicorn.hotloop_times(ctx.arch.name, ctx.elf, (n1, n2))
    return {"mips": _net_rate((0, 2 * (n2 - n1)), (t1, t2)) / 1e6}


def _guest_gdb_breakpoint(server: str) -> Callable[[Ctx], dict[str, float]]:
    def extra(ctx: Ctx) -> dict[str, object]:
        return {"n1": ctx.sizes.hot_gdb_n[0], "n2": ctx.sizes.hot_gdb_n[1]}

    inner = _gdb_measure(gdbscripts.GUEST_BREAKPOINT, server, extra)

    def measure(ctx: Ctx) -> dict[str, float]:
        values = inner(ctx)
        n1, n2 = ctx.sizes.hot_gdb_n
        return {"mips": _net_rate((0, 2 * (n2 - n1)), (values["t1"], values["t2"])) / 1e6}

    return measure


def _guest_gdb_interrupt(server: str) -> Callable[[Ctx], dict[str, float]]:
    def extra(ctx: Ctx) -> dict[str, object]:
        return {"d1": ctx.sizes.tcg_seconds[0], "d2": ctx.sizes.tcg_seconds[1]}

    inner = _gdb_measure(gdbscripts.GUEST_INTERRUPT, server, extra)

    def measure(ctx: Ctx) -> dict[str, float]:
        v = inner(ctx)
        return {"mips": _net_rate((v["i1"], v["i2"]), (v["t1"], v["t2"])) / 1e6}

    return measure


def build_guest(arch_name: str) -> Case:
    qemu = f"QEMU {ARCHES[arch_name].qemu.removeprefix('qemu-system-')} TCG"
    contenders = [
        Contender("xgdbvm run", guest_xgdbvm_run),
        Contender("bare Unicorn, no hooks", guest_bare_unicorn),
        Contender(f"{qemu}, free-running", _guest_gdb_interrupt("qemu")),
        Contender("xgdbvm under gdb, breakpoint set", _guest_gdb_breakpoint("xgdbvm")),
        Contender(f"{qemu} under gdb, breakpoint set", _guest_gdb_breakpoint("qemu")),
    ]
    rows = [
        Row("guest MIPS, xgdbvm run", "MIPS", True, (0, "mips"), (1, "mips")),
        Row("guest MIPS, xgdbvm run", "MIPS", True, (0, "mips"), (2, "mips")),
        Row("guest MIPS under gdb with a breakpoint", "MIPS", True, (3, "mips"), (4, "mips")),
    ]
    return Case("guest", arch_name, contenders, rows)


# ---------------------------------------------------------------- hypercalls


def hypercall_xgdbvm(ctx: Ctx) -> dict[str, float]:
    n1, n2 = ctx.sizes.hcall_n
    runs = [
        _xgdbvm_run(
            ctx,
            "--bootargs",
            f"xgdbvm.test=hcall-loop xgdbvm.n={n}",
            expect=f"hcall-loop: {n} calls",
        )
        for n in (n1, n2)
    ]
    return {"rate": _net_rate((n1, n2), (runs[0].wall, runs[1].wall))}


def hypercall_bare(ctx: Ctx) -> dict[str, float]:
    n1, n2 = ctx.sizes.hcall_n
    t1, t2 = bare_unicorn.hvc_loop_times(ctx.arch.name, (n1, n2))
    return {"rate": _net_rate((n1, n2), (t1, t2))}


def build_hypercall(arch_name: str) -> Case:
    contenders = [
        Contender("xgdbvm run", hypercall_xgdbvm),
        Contender("bare Unicorn, empty INTR hook", hypercall_bare),
    ]
    row = Row("hypercall round trips", "calls/s", True, (0, "rate"), (1, "rate"))
    return Case("hypercall", arch_name, contenders, [row])


# ---------------------------------------------------------------- start-up and memory


def startup_xgdbvm(ctx: Ctx) -> dict[str, float]:
    timeout = ctx.sizes.timeout
    argv = targets.xgdbvm_server_argv(ctx.tree, ctx.arch)
    start = time.perf_counter()
    proc = procs.spawn(argv, stderr=subprocess.PIPE, env=ctx.tree.env(), cwd=ctx.tree.root)
    try:
        assert proc.stderr is not None
        _, arrived = procs.wait_for_line(proc.stderr, b"GDB server on", proc, timeout)
    finally:
        procs.stop(proc)
    first = arrived - start
    boot = _xgdbvm_run(ctx, expect="scenario: default")
    return {"first_ms": 1000 * first, "poweroff_ms": 1000 * boot.wall}


def startup_qemu(ctx: Ctx) -> dict[str, float]:
    arch = ctx.arch
    port = procs.free_port()
    start = time.perf_counter()
    proc = procs.spawn(targets.qemu_argv(arch, ctx.elf_path, port))
    try:
        listening = procs.wait_listening(port, proc, ctx.sizes.timeout)
    finally:
        procs.stop(proc)
    return {"first_ms": 1000 * (listening - start)}


def startup_python_floor(ctx: Ctx) -> dict[str, float]:
    done = procs.run_timed(
        [str(VENV_PYTHON), "-c", "import unicorn"], timeout=ctx.sizes.timeout, tmpdir=ctx.tmp()
    )
    if done.returncode != 0:
        raise BenchError(f"python -c 'import unicorn' failed: {done.stderr.strip()[-200:]}")
    return {"ms": 1000 * done.wall}


def build_startup(arch_name: str) -> Case:
    contenders = [
        Contender("xgdbvm run", startup_xgdbvm),
        Contender(f"{ARCHES[arch_name].qemu} -S, gdbstub listening", startup_qemu),
        Contender("venv python -c 'import unicorn'", startup_python_floor),
    ]
    rows = [
        Row("start to first instruction", "ms", False, (0, "first_ms"), (1, "first_ms")),
        Row("start to first instruction", "ms", False, (0, "first_ms"), (2, "ms")),
        Row("default boot to poweroff", "ms", False, (0, "poweroff_ms"), (2, "ms")),
    ]
    return Case("startup", arch_name, contenders, rows)


def memory_xgdbvm(ctx: Ctx) -> dict[str, float]:
    rss = []
    for extra in ((), ("--memory", "1G")):
        rss_file = ctx.tmp() / "rss"
        _xgdbvm_run(ctx, *extra, expect="scenario: default", rss_file=rss_file)
        rss.append(procs.read_rss(rss_file))
    return _rss_values(rss[0], rss[1])


def memory_qemu(ctx: Ctx) -> dict[str, float]:
    rss = []
    for memory in ("128M", "1G"):
        port = procs.free_port()
        rss_file = ctx.tmp() / "rss"
        argv = procs.rss_wrapped(targets.qemu_argv(ctx.arch, ctx.elf_path, port, memory), rss_file)
        proc = procs.spawn(argv)
        try:
            procs.wait_listening(port, proc, ctx.sizes.timeout)
        finally:
            procs.terminate_wrapped(proc, 5.0)
        rss.append(procs.read_rss(rss_file))
    return _rss_values(rss[0], rss[1])


def _rss_values(small_kib: int, large_kib: int) -> dict[str, float]:
    return {
        "rss_mib": small_kib / 1024,
        "rss_1g_mib": large_kib / 1024,
        "kib_per_mib": (large_kib - small_kib) / (1024 - 128),
    }


def build_memory(arch_name: str) -> Case:
    contenders = [
        Contender("xgdbvm run, default boot", memory_xgdbvm),
        Contender(f"{ARCHES[arch_name].qemu} -S, idle", memory_qemu),
    ]
    rows = [
        Row("peak RSS, 128 MiB guest", "MiB", False, (0, "rss_mib"), (1, "rss_mib")),
        Row("peak RSS, 1 GiB guest", "MiB", False, (0, "rss_1g_mib"), (1, "rss_1g_mib")),
        Row("RSS per MiB of guest RAM", "KiB/MiB", False, (0, "kib_per_mib"), (1, "kib_per_mib")),
    ]
    return Case("memory", arch_name, contenders, rows)


# ---------------------------------------------------------------- descriptions


def _d_stepi(s: Sizes) -> str:
    return (
        "gdb-multiarch attaches (`target remote`) to a server holding the guest at its first "
        "instruction, sets the count register, the link register and `$pc` to enter the "
        "firmware's `hotloop_countdown` with a count it cannot exhaust, and runs "
        f"`stepi {s.steps}`; the figure is {s.steps} divided by the seconds "
        '`gdb.execute("stepi N", to_string=True)` takes, timed inside gdb with '
        "`time.perf_counter()`. The harness checks that the count register dropped by N/2. "
        "Same ELF, same script against QEMU's gdbstub (`-S -gdb tcp:127.0.0.1:PORT`). "
        "A new server and a new gdb for every run; their start-up is not timed."
    )


def _d_continue(s: Sizes) -> str:
    return (
        "As stepi, then `break *hotloop_iter` (the loop's first instruction) and one untimed "
        f"`continue` to reach it; the figure is {s.continues} further `continue`s divided by "
        "their seconds, timed inside gdb. Each continue is gdb's full cycle: step off the "
        "breakpoint with it removed, insert it, resume, stop, read what it needs. The harness "
        f"checks that the loop ran exactly {s.continues} iterations and stopped at hotloop_iter."
    )


def _d_dump(s: Sizes) -> str:
    return (
        f"`dump binary memory FILE 0x40000000 0x{RAM_BASE + s.dump_bytes:x}` "
        f"({s.dump_bytes // MiB} MiB of guest RAM, both servers given 128 MiB) right after "
        "attaching, timed inside gdb; MB/s = 10^6 bytes per second. The harness checks the "
        "file's size and that the ELF's first loaded 4 KiB appear at their address in it. "
        "Most of that range is zeros (the firmware is a few KiB and has not run), so a server "
        "that run-length-encodes its replies would gain more here than on real data."
    )


def _d_attach(_s: Sizes) -> str:
    return (
        "From just before starting `gdb-multiarch -q -nx -batch guest.elf -ex 'target remote "
        "HOST:PORT' -ex 'info registers pc'` to the moment gdb has printed the pc (a "
        "`python print(time.monotonic())` right after it; CLOCK_MONOTONIC is shared by all "
        "processes), against a server that is already listening with the guest held at its "
        "first instruction. Includes gdb's own start-up and reading the ELF's symbols, the "
        "same for both servers."
    )


def _d_guest(s: Sizes) -> str:
    (n1, n2), (g1, g2), (d1, d2) = s.hot_n, s.hot_gdb_n, s.tcg_seconds
    return (
        f'**xgdbvm run**: wall time of `xgdbvm run --bootargs "xgdbvm.test=hotloop '
        f'xgdbvm.n=N"` (process start to exit) for N = {n1:,} and {n2:,}; MIPS = '
        f"2 x ({n2:,} - {n1:,}) / (t2 - t1), so start-up, boot and shutdown cancel; the "
        "harness checks xgdbvm's own instruction count agrees. **Bare Unicorn**: the ELF's "
        "`hotloop_countdown` bytes in a bare `unicorn.Uc` (Cortex-A72 / Cortex-A15, no hooks), "
        "`emu_start` from its entry until its return instruction, same two N, same formula; "
        "this is the ceiling for an emulator built on Unicorn. **QEMU TCG, free-running**: "
        "QEMU `-S` with the same ELF, gdb enters hotloop_countdown with an inexhaustible count "
        f"and no breakpoint, `continue`, and interrupts it from a timer after {d1} s and {d2} s; "
        "MIPS = difference of the instructions done (from the count register) over the "
        "difference of the timed `continue`s. **Under gdb, breakpoint set**: gdb sets a "
        "breakpoint on hotloop_countdown's return instruction and times `continue` for "
        f"N = {g1:,} and {g2:,}, same formula, against xgdbvm and against QEMU; this is what a "
        "user with a breakpoint somewhere sees. QEMU 7.2 drops to about a tenth of its speed "
        "as soon as any gdb breakpoint is inserted, hence two QEMU figures."
    )


def _d_hypercall(s: Sizes) -> str:
    n1, n2 = s.hcall_n
    return (
        'Wall time of `xgdbvm run --bootargs "xgdbvm.test=hcall-loop xgdbvm.n=N"` for '
        f"N = {n1:,} and {n2:,} (each call `HYPERVISOR_xen_version(XENVER_version, NULL)`, "
        f"`hvc #0xea1`); round trips per second = ({n2:,} - {n1:,}) / (t2 - t1). Reference: a "
        "bare `unicorn.Uc` looping `hvc #0xea1; subs; b.ne` with EL2/Hyp configured as xgdbvm "
        "does so that hvc traps, an empty Python `UC_HOOK_INTR` hook, same N, `emu_start` timed: "
        "the floor of the trap itself through the unicorn binding."
    )


def _d_startup(_s: Sizes) -> str:
    return (
        "**Start to first instruction**: from just before starting `xgdbvm run --gdb "
        "127.0.0.1:0 --wait-for-gdb` to its stderr line `GDB server on ...` arriving on a "
        "pipe (the machine is built and held at its first instruction). References: `qemu-system-* "
        "-S -gdb tcp:127.0.0.1:PORT` with the same ELF, until the port is listening (polled in "
        "/proc/net/tcp every millisecond, without connecting), and the venv's `python -c 'import "
        "unicorn'`, the floor of any Python process using Unicorn. **Default boot to "
        "poweroff**: wall time of `xgdbvm run` with the default scenario, process start to exit."
    )


def _d_memory(_s: Sizes) -> str:
    return (
        "Peak RSS of `xgdbvm run` booting the "
        "default scenario to poweroff, with the default 128 MiB and with `--memory 1G`; "
        "per-MiB cost = (RSS at 1 GiB - RSS at 128 MiB) / 896. Reference: QEMU with `-m 128M` / "
        "`-m 1G`, `-S`, the ELF loaded, until its gdbstub listens, then SIGTERM (it never runs "
        "the guest: the firmware needs Xen). Peak RSS is the `ru_maxrss` that `wait4` returns "
        "for the measured process to a small Python wrapper that forked it: a process forked "
        "from the harness itself would report at least the harness's own high-water mark, "
        "which Linux carries across exec."
    )


BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark("stepi", "gdb-multiarch stepi per second", _d_stepi, build_stepi),
        Benchmark(
            "continue", "continues per second through a breakpoint in a loop", _d_continue,
            build_continue,
        ),
        Benchmark("dump", "dump binary memory MB/s", _d_dump, build_dump),
        Benchmark("attach", "attach-to-first-register time", _d_attach, build_attach),
        Benchmark("guest", "free-running guest MIPS", _d_guest, build_guest),
        Benchmark("hypercall", "hypercall round trips per second", _d_hypercall, build_hypercall),
        Benchmark(
            "startup", "start-up to first instruction and boot to poweroff", _d_startup,
            build_startup,
        ),
        Benchmark("memory", "peak RSS and per-MiB cost of guest RAM", _d_memory, build_memory),
    )
}  # fmt: skip


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
