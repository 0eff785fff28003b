"""The benchmarks: what each measures, against which reference, with which sizes.

A benchmark is built per architecture as a Case: a list of contenders (xgdbvm
first, then its references), each a function returning named values for one
run, and the rows of the report, each pairing an xgdbvm value with a reference
value. The runner calls the contenders in turn, run after run, so that xgdbvm
and its references alternate and share whatever the machine is doing meanwhile.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchlib import bare_unicorn, gdbscripts, procs, replay, targets, tracechan
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
    hcall_n: tuple[int, int]  # hcall-loop calls (constant: the native path answers them)
    hcall_model_n: tuple[int, int]  # hcall-model calls (the Python model answers them)
    trace_n: int  # hcall-loop calls per run served to trace subscribers or to a file
    trace_speed_n: tuple[int, int]  # hcall-loop calls, tracing on and off
    trace_rss_n: tuple[int, int]  # hcall-loop calls traced to a file, for peak RSS
    timeout: float  # bound on any one process or gdb session (longer for long hcall-loops)


FULL = Sizes(
    steps=2000, continues=500, dump_bytes=16 * MiB, hot_n=(1_000, 500_000_000),
    hot_gdb_n=(100_000, 20_000_000), tcg_seconds=(0.5, 2.0), hcall_n=(10_000, 3_000_000),
    hcall_model_n=(1_000, 50_000), trace_n=50_000, trace_speed_n=(1_000, 50_000),
    trace_rss_n=(100_000, 1_000_000), timeout=300.0,
)  # fmt: skip
QUICK = Sizes(
    steps=200, continues=50, dump_bytes=1 * MiB, hot_n=(1_000, 50_000_000),
    hot_gdb_n=(1_000, 2_000_000), tcg_seconds=(0.1, 0.4), hcall_n=(1_000, 1_000_000),
    hcall_model_n=(100, 2_000), trace_n=2_000, trace_speed_n=(100, 5_000),
    trace_rss_n=(1_000, 10_000), timeout=60.0,
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
    reference: str | None = None  # shown instead of the right contender's name


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
    build: Callable[[str, Sizes], Case]  # (arch, sizes) -> Case
    arches: tuple[str, ...] = ("arm64", "arm32")


# ---------------------------------------------------------------- GDB client benchmarks


# An xgdbvm server running a firmware scenario instead of the default one.
MMU_SCENARIO = "xgdbvm-mmu"


def _server(ctx: Ctx, server: str, tmp: Path) -> contextlib.AbstractContextManager[str]:
    if server == "xgdbvm":
        return targets.xgdbvm_server(ctx.tree, ctx.arch, tmp, ctx.sizes.timeout)
    if server == MMU_SCENARIO:
        extra = ("--bootargs", "xgdbvm.test=mmu")
        return targets.xgdbvm_server(ctx.tree, ctx.arch, tmp, ctx.sizes.timeout, extra)
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


def _replay_measure(
    body: str, extra: Callable[[Ctx], dict[str, object]]
) -> Callable[[Ctx], dict[str, float]]:
    """The script against a server that only replays xgdbvm's answers (benchlib.replay):
    recorded through a proxy in one untimed session, then timed against the replay."""

    def measure(ctx: Ctx) -> dict[str, float]:
        tmp, timeout = ctx.tmp(), ctx.sizes.timeout
        with _server(ctx, "xgdbvm", tmp) as target, replay.recording(target, timeout) as proxy:
            params = targets.gdb_params(ctx.arch, ctx.elf, proxy.target, timeout, **extra(ctx))
            targets.run_gdb_script(ctx.elf_path, body, params, tmp, timeout)
            try:
                turns = proxy.join()
            except RuntimeError as error:
                raise BenchError(str(error)) from None
        recorded = tmp / "conversation.replay"
        replay.save(turns, recorded)
        err = tmp / "replay.err"
        with err.open("wb") as stderr:
            proc = procs.spawn(
                [sys.executable, "-m", "benchlib.replay", str(recorded), str(timeout)],
                stdout=subprocess.PIPE, stderr=stderr,
            )  # fmt: skip
        try:
            assert proc.stdout is not None
            line, _ = procs.wait_for_line(proc.stdout, replay.READY.encode(), proc, timeout)
            port = int(line.split()[-1])
            params = targets.gdb_params(
                ctx.arch, ctx.elf, f"{targets.LOOPBACK}:{port}", timeout, **extra(ctx)
            )
            values = targets.run_gdb_script(ctx.elf_path, body, params, tmp, timeout)
            if proc.wait(timeout) != 0:
                tail = err.read_text(errors="replace").strip().splitlines()[-1:] or ["?"]
                raise BenchError(f"the replay failed: {tail[0][:200]}")
        finally:
            procs.stop(proc)
        client_turns = sum(1 for side, _ in turns if side == replay.CLIENT)
        return {**values, "packets": float(client_turns)}

    return measure


# A server answering in no time, for real: gdb's own work and the kernel's round trips.
REPLAY = "zero-work server replaying xgdbvm's answers"

# The rate gdb-multiarch itself allows: the steps (continues) per second of its own CPU
# time during the timed command, i.e. what it would reach with a server taking no time.
GDB_CEILING = "gdb's own CPU alone (zero-time server)"


def _stepi_mmu_extra(ctx: Ctx) -> dict[str, object]:
    main = ctx.elf.symbol("mmu_virtual_main").address
    sctlr = "SCTLR_EL1" if ctx.arch.name == "arm64" else "SCTLR"
    return {"steps": ctx.sizes.steps, "mmu_main": main, "sctlr": sctlr}


def _checked_stepi_mmu(
    measure: Callable[[Ctx], dict[str, float]],
) -> Callable[[Ctx], dict[str, float]]:
    def checked(ctx: Ctx) -> dict[str, float]:
        values = measure(ctx)
        if values.get("mmu_on") != 1:
            raise BenchError("stepi in the mmu scenario ran with the guest's MMU off")
        return values

    return checked


def build_stepi(arch_name: str, _sizes: Sizes) -> Case:
    contenders = _gdb_pair(ARCHES[arch_name], gdbscripts.STEPI, _stepi_extra, _checked_stepi)
    contenders.append(
        Contender(REPLAY, _checked_stepi(_replay_measure(gdbscripts.STEPI, _stepi_extra)))
    )
    contenders.append(
        Contender(
            "xgdbvm, guest MMU on",
            _checked_stepi_mmu(_gdb_measure(gdbscripts.STEPI_MMU, MMU_SCENARIO, _stepi_mmu_extra)),
        )
    )
    rows = [
        Row("stepi", "steps/s", True, (0, "rate"), (1, "rate")),
        Row("stepi", "steps/s", True, (0, "rate"), (0, "gdb_ceiling"), GDB_CEILING),
        Row("stepi", "steps/s", True, (0, "rate"), (2, "rate")),
        Row("stepi, the zero-work server's (the ceiling)", "steps/s", True, (2, "rate"),
            (1, "rate")),
        Row("stepi, guest MMU on (xgdbvm only)", "steps/s", True, (3, "rate"), (0, "rate"),
            "xgdbvm, guest MMU off"),
    ]  # fmt: skip
    return Case("stepi", arch_name, contenders, rows)


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


def build_continue(arch_name: str, _sizes: Sizes) -> Case:
    arch = ARCHES[arch_name]
    contenders = _gdb_pair(arch, gdbscripts.CONTINUE, _continue_extra, _checked_continue)
    contenders.append(
        Contender(REPLAY, _checked_continue(_replay_measure(gdbscripts.CONTINUE, _continue_extra)))
    )
    rows = [
        Row("continue to a breakpoint", "continues/s", True, (0, "rate"), (1, "rate")),
        Row(
            "continue to a breakpoint", "continues/s", True, (0, "rate"), (0, "gdb_ceiling"),
            GDB_CEILING,
        ),
        Row("continue to a breakpoint", "continues/s", True, (0, "rate"), (2, "rate")),
        Row("continue, the zero-work server's (the ceiling)", "continues/s", True, (2, "rate"),
            (1, "rate")),
    ]  # fmt: skip
    return Case("continue", arch_name, contenders, rows)


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


def build_dump(arch_name: str, _sizes: Sizes) -> Case:
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


def build_attach(arch_name: str, _sizes: Sizes) -> Case:
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
    ctx: Ctx,
    *args: str,
    expect: str | None = None,
    rss_file: Path | None = None,
    timeout: float | None = None,
) -> procs.Finished:
    argv = [*ctx.tree.xgdbvm(), "run", "--arch", ctx.arch.name, *args]
    if rss_file is not None:
        argv = procs.rss_wrapped(argv, rss_file)
    done = procs.run_timed(
        argv,
        timeout=timeout or ctx.sizes.timeout,
        env=ctx.tree.env(),
        cwd=ctx.tree.root,
        tmpdir=ctx.tmp(),
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


def _guest_xgdbvm_run(*extra: str) -> Callable[[Ctx], dict[str, float]]:
    """`xgdbvm run` of the hotloop; `--fast` among `extra` is host-time mode, which counts
    no instructions (its summary says 0), so only the default mode's count is checked."""
    counted = "--fast" not in extra

    def measure(ctx: Ctx) -> dict[str, float]:
        n1, n2 = ctx.sizes.hot_n
        runs = [
            _xgdbvm_run(
                ctx,
                *extra,
                "--bootargs",
                f"xgdbvm.test=hotloop xgdbvm.n={n}",
                expect=f"hotloop: {n} iterations",
            )
            for n in (n1, n2)
        ]
        insns = [_instructions(r) for r in runs]
        delta = 2 * (n2 - n1)
        # xgdbvm's own count agrees, give or take the printing of a longer N at the end
        if (
            counted
            and insns[0] is not None
            and insns[1] is not None
            and abs(insns[1] - insns[0] - delta) > 5000
        ):
            raise BenchError(f"xgdbvm counted {insns[1] - insns[0]} instructions for {delta}")
        return {"mips": _net_rate((0, delta), (runs[0].wall, runs[1].wall)) / 1e6}

    return measure


def guest_bare_unicorn(ctx: Ctx) -> dict[str, float]:
    n1, n2 = ctx.sizes.hot_n
    t1, t2 = bare_unicorn.hotloop_times(ctx.arch.name, ctx.elf, (n1, n2))
    return {"mips": _net_rate((0, 2 * (n2 - n1)), (t1, t2)) / 1e6}


def guest_bare_unicorn_block_hook(ctx: Ctx) -> dict[str, float]:
    n1, n2 = ctx.sizes.hot_n
    hook = bare_unicorn.empty_block_hook(ctx.tmp())
    t1, t2 = bare_unicorn.hotloop_times(ctx.arch.name, ctx.elf, (n1, n2), block_hook=hook)
    return {"mips": _net_rate((0, 2 * (n2 - n1)), (t1, t2)) / 1e6}


IN_PROCESS_ROUNDS = 3


def guest_in_process(ctx: Ctx) -> dict[str, float]:
    """benchlib.inprocess_guest in the tree's Python: the Machine between two bare runs."""
    n1, n2 = ctx.sizes.hot_n[0], ctx.sizes.hot_n[1] // 5
    env = ctx.tree.env()
    env["PYTHONPATH"] = f"{ctx.tree.root}:{Path(__file__).resolve().parents[1]}"
    done = procs.run_timed(
        [str(VENV_PYTHON), "-m", "benchlib.inprocess_guest", ctx.arch.name, str(n1), str(n2),
         str(IN_PROCESS_ROUNDS)],
        timeout=ctx.sizes.timeout, env=env, cwd=ctx.tree.root, tmpdir=ctx.tmp(),
    )  # fmt: skip
    if done.returncode != 0:
        tail = (done.stderr.strip() or "(no output)").splitlines()[-1]
        raise BenchError(f"inprocess_guest exited with status {done.returncode}: {tail[:200]}")
    values = json.loads(done.stdout)
    return {"mips": float(values["mips"]), "bare_mips": float(values["bare_mips"])}


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


def build_guest(arch_name: str, _sizes: Sizes) -> Case:
    qemu = f"QEMU {ARCHES[arch_name].qemu.removeprefix('qemu-system-')} TCG"
    contenders = [
        Contender("xgdbvm run", _guest_xgdbvm_run()),
        Contender("bare Unicorn, no hooks", guest_bare_unicorn),
        Contender(f"{qemu}, free-running", _guest_gdb_interrupt("qemu")),
        Contender("xgdbvm under gdb, breakpoint set", _guest_gdb_breakpoint("xgdbvm")),
        Contender(f"{qemu} under gdb, breakpoint set", _guest_gdb_breakpoint("qemu")),
        Contender("xgdbvm run --fast", _guest_xgdbvm_run("--fast")),
        Contender("bare Unicorn, one empty C block hook", guest_bare_unicorn_block_hook),
        Contender("xgdbvm's Machine in one process", guest_in_process),
    ]
    rows = [
        Row("guest MIPS, xgdbvm run", "MIPS", True, (0, "mips"), (1, "mips")),
        Row("guest MIPS, xgdbvm run --fast", "MIPS", True, (5, "mips"), (1, "mips")),
        Row("guest MIPS, xgdbvm run", "MIPS", True, (0, "mips"), (6, "mips")),
        Row("guest MIPS, xgdbvm run", "MIPS", True, (0, "mips"), (2, "mips")),
        Row("guest MIPS under gdb with a breakpoint", "MIPS", True, (3, "mips"), (4, "mips")),
        Row("guest MIPS, Machine in one process", "MIPS", True, (7, "mips"), (7, "bare_mips"),
            reference="bare Unicorn, same process, before and after"),
    ]  # fmt: skip
    return Case("guest", arch_name, contenders, rows)


# ---------------------------------------------------------------- hypercalls


def _hypercall_loop(
    scenario: str, sizes: Callable[[Sizes], tuple[int, int]]
) -> Callable[[Ctx], dict[str, float]]:
    def measure(ctx: Ctx) -> dict[str, float]:
        n1, n2 = sizes(ctx.sizes)
        runs = [
            _xgdbvm_run(
                ctx,
                "--bootargs",
                f"xgdbvm.test={scenario} xgdbvm.n={n}",
                expect=f"{scenario}: {n} calls",
            )
            for n in (n1, n2)
        ]
        return {"rate": _net_rate((n1, n2), (runs[0].wall, runs[1].wall))}

    return measure


def hypercall_bare(ctx: Ctx) -> dict[str, float]:
    n1, n2 = ctx.sizes.hcall_n
    t1, t2 = bare_unicorn.hvc_loop_times(ctx.arch.name, (n1, n2))
    return {"rate": _net_rate((n1, n2), (t1, t2))}


def build_hypercall(arch_name: str, _sizes: Sizes) -> Case:
    contenders = [
        Contender("xgdbvm run", _hypercall_loop("hcall-loop", lambda s: s.hcall_n)),
        Contender("bare Unicorn, empty INTR hook", hypercall_bare),
        Contender(
            "xgdbvm run, hcall-model", _hypercall_loop("hcall-model", lambda s: s.hcall_model_n)
        ),
    ]
    rows = [
        Row("hypercall round trips", "calls/s", True, (0, "rate"), (1, "rate")),
        Row("hypercall round trips, model answers", "calls/s", True, (2, "rate"), (1, "rate")),
    ]
    return Case("hypercall", arch_name, contenders, rows)


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


def build_startup(arch_name: str, _sizes: Sizes) -> Case:
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


def build_memory(arch_name: str, _sizes: Sizes) -> Case:
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


# ---------------------------------------------------------------- trace channel


def _hcall_loop(n: int) -> tuple[str, str]:
    return ("--bootargs", f"xgdbvm.test=hcall-loop xgdbvm.n={n}")


def _long_timeout(ctx: Ctx, calls: int) -> float:
    """A bound for an hcall-loop of `calls`: the usual one, or 500 calls/s at the least."""
    return max(ctx.sizes.timeout, calls / 500)


def _held(ctx: Ctx, tmp: Path, *extra: str) -> contextlib.AbstractContextManager[tracechan.Held]:
    """xgdbvm holding hcall-loop (trace_n calls) at its first instruction for GDB."""
    argv = targets.xgdbvm_server_argv(ctx.tree, ctx.arch, (*_hcall_loop(ctx.sizes.trace_n), *extra))
    timeout = _long_timeout(ctx, ctx.sizes.trace_n)
    return tracechan.held_guest(argv, env=ctx.tree.env(), cwd=ctx.tree.root, tmp=tmp,
                                timeout=timeout)  # fmt: skip


def _check_count(ctx: Ctx, events: int, what: str) -> None:
    if events < 2 * ctx.sizes.trace_n:
        raise BenchError(f"{what}: {events} events for {ctx.sizes.trace_n} hypercalls")


def _delivered(ctx: Ctx, subscribers: int) -> tracechan.Delivery:
    with _held(ctx, ctx.tmp(), "--trace", f"{targets.LOOPBACK}:0") as held:
        delivery = tracechan.deliver(held, subscribers, _long_timeout(ctx, ctx.sizes.trace_n))
    for index, (got, lost) in enumerate(zip(delivery.events, delivery.dropped, strict=True)):
        _check_count(ctx, got + lost, f"subscriber {index + 1}")
    return delivery


def trace_one_subscriber(ctx: Ctx) -> dict[str, float]:
    delivery = _delivered(ctx, 1)
    return {
        "rate": delivery.events[0] / delivery.seconds[0],
        "dropped": float(delivery.dropped[0]),
    }


def trace_eight_subscribers(ctx: Ctx) -> dict[str, float]:
    d = _delivered(ctx, 8)
    return {
        "rate_total": sum(d.events) / max(d.seconds),
        "rate_each": min(got / secs for got, secs in zip(d.events, d.seconds, strict=True)),
        "dropped_each": float(max(d.dropped)),
    }


def trace_file_only(ctx: Ctx) -> dict[str, float]:
    tmp = ctx.tmp()
    path = tmp / "trace.jsonl"
    try:
        with _held(ctx, tmp, "--trace-file", str(path)) as held:
            delivery = tracechan.deliver(held, 0, _long_timeout(ctx, ctx.sizes.trace_n))
        events = tracechan.file_events(path)
    finally:
        path.unlink(missing_ok=True)
    _check_count(ctx, events, "trace file")
    return {"rate": events / delivery.stopped}


def _hcall_rate(traced: bool) -> Callable[[Ctx], dict[str, float]]:
    def measure(ctx: Ctx) -> dict[str, float]:
        # Untraced, the calls are answered natively, far faster: as many as the
        # hypercall benchmark makes, or start-up noise would swamp the difference.
        n1, n2 = ctx.sizes.trace_speed_n if traced else ctx.sizes.hcall_n
        walls = []
        for n in (n1, n2):
            tmp = ctx.tmp()
            extra = ("--trace-file", str(tmp / "trace.jsonl")) if traced else ()
            try:
                done = _xgdbvm_run(ctx, *_hcall_loop(n), *extra, expect=f"hcall-loop: {n} calls")
            finally:
                (tmp / "trace.jsonl").unlink(missing_ok=True)
            walls.append(done.wall)
        return {"rate": _net_rate((n1, n2), (walls[0], walls[1]))}

    return measure


def trace_rss(ctx: Ctx) -> dict[str, float]:
    rss = []
    for n in ctx.sizes.trace_rss_n:
        tmp = ctx.tmp()
        path, rss_file = tmp / "trace.jsonl", tmp / "rss"
        try:
            _xgdbvm_run(
                ctx, *_hcall_loop(n), "--trace-file", str(path), expect=f"hcall-loop: {n} calls",
                rss_file=rss_file, timeout=_long_timeout(ctx, n),
            )  # fmt: skip
            events = tracechan.file_events(path)
        finally:
            path.unlink(missing_ok=True)
        if events < 2 * n:
            raise BenchError(f"the trace file of {n} hypercalls holds {events} events")
        rss.append(procs.read_rss(rss_file) / 1024)
    n1, n2 = ctx.sizes.trace_rss_n
    return {
        "rss_small": rss[0],
        "rss_big": rss[1],
        "mib_per_100k": (rss[1] - rss[0]) / ((n2 - n1) / 100_000),
    }


def build_trace(arch_name: str, sizes: Sizes) -> Case:
    contenders = [
        Contender("xgdbvm, 1 subscriber", trace_one_subscriber),
        Contender("xgdbvm, --trace-file only (events written/s)", trace_file_only),
        Contender("xgdbvm, 8 subscribers", trace_eight_subscribers),
        Contender("xgdbvm run --trace-file", _hcall_rate(traced=True)),
        Contender("xgdbvm run, tracing off", _hcall_rate(traced=False)),
        Contender("xgdbvm run --trace-file, hcall-loop, two N", trace_rss),
    ]
    small, big = sizes.trace_rss_n
    rows = [
        Row("trace events, 1 subscriber", "events/s", True, (0, "rate"), (1, "rate")),
        Row("trace events, 8 subscribers in all", "events/s", True, (2, "rate_total"),
            (0, "rate")),
        Row("trace events, slowest of 8 subscribers", "events/s", True, (2, "rate_each"),
            (0, "rate")),
        Row("trace events dropped, worst of 8", "events", False, (2, "dropped_each"),
            (0, "dropped")),
        Row("hypercalls, tracing to a file", "calls/s", True, (3, "rate"), (4, "rate")),
        Row(f"peak RSS, {big:,} hypercalls traced", "MiB", False, (5, "rss_big"),
            (5, "rss_small"), reference=f"the same, {small:,} hypercalls"),
        Row("RSS growth per 100,000 traced hypercalls", "MiB", False, (5, "mib_per_100k"), None),
    ]  # fmt: skip
    return Case("trace", arch_name, contenders, rows)


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
        "A new server and a new gdb for every run; their start-up is not timed. "
        "**gdb's own CPU alone**: N divided by gdb's own CPU time (`time.process_time()` "
        "inside gdb) over the same command, the rate gdb would reach against a server that "
        "answered in no time, leaving out the kernel's part of each round trip. "
        "**Zero-work server replaying xgdbvm's answers** (`scripts/benchlib/replay.py`): the "
        "same script is run once, untimed, through a loopback proxy in front of an xgdbvm "
        "server that records the conversation, then again, timed, against a server that only "
        "checks each of gdb's packets against the recording and sends the recorded answer, "
        "spinning on a non-blocking socket in between, as xgdbvm does; gdb given the same "
        "answers sends the same packets and gets the same results, which the harness checks "
        "as above. Its rate is gdb's own work plus the kernel's round trips on this host: the "
        "ceiling for any server with this client, and its ratio to QEMU the highest ratio any "
        "server could show (the row marked the ceiling). The recording's packet count is in "
        "the log (`packets`): about 20 a step on arm32 and 6 on arm64. "
        "**Guest MMU on**: the firmware's `mmu` scenario (`--bootargs xgdbvm.test=mmu`), run "
        "to a breakpoint on `mmu_virtual_main` (a virtual address: the guest's MMU is on and "
        f"its identity map gone), then `stepi {s.steps}` timed the same way through the code "
        "that follows; the harness checks SCTLR.M. Its reference is the MMU-off figure of the "
        "same run, but the code stepped differs and gdb's reads per step depend on it, so the "
        "ratio is only indicative; compare the rate itself across revisions (`--rev`). QEMU "
        "cannot run this scenario (it needs Xen)."
    )


def _d_continue(s: Sizes) -> str:
    return (
        "As stepi, then `break *hotloop_iter` (the loop's first instruction) and one untimed "
        f"`continue` to reach it; the figure is {s.continues} further `continue`s divided by "
        "their seconds, timed inside gdb. Each continue is gdb's full cycle: step off the "
        "breakpoint with it removed, insert it, resume, stop, read what it needs. The harness "
        f"checks that the loop ran exactly {s.continues} iterations and stopped at hotloop_iter. "
        "gdb's own CPU alone and the zero-work server: as for stepi (9 packets a continue)."
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
        "harness checks xgdbvm's own instruction count agrees. This is the default, "
        "deterministic mode: guest time is the instruction count, kept inline by the "
        "libunicorn that scripts/unicorn/build patches (each translated block adds its "
        "instruction count in the exit check it already makes). "
        "**xgdbvm run --fast**: the same with `--fast` (guest time follows the host clock, no "
        "instruction count), the price of determinism being the difference "
        "between the two rows. **Bare Unicorn**: the ELF's "
        "`hotloop_countdown` bytes in a bare `unicorn.Uc` (Cortex-A72 / Cortex-A15, no hooks), "
        "`emu_start` from its entry until its return instruction, same two N, same formula; "
        "this is the ceiling for an emulator built on Unicorn. It is the same library "
        "xgdbvm loads, with no counter set, where the patch changes nothing. **Bare Unicorn, "
        "one empty C block hook**: the same with a single native UC_HOOK_BLOCK hook whose body "
        "is empty (compiled by the harness): the floor of any design that counts "
        "instructions with a block hook, as xgdbvm did on stock Unicorn before the patch "
        "(and still does on a library without it). **QEMU TCG, free-running**: "
        "QEMU `-S` with the same ELF, gdb enters hotloop_countdown with an inexhaustible count "
        f"and no breakpoint, `continue`, and interrupts it from a timer after {d1} s and {d2} s; "
        "MIPS = difference of the instructions done (from the count register) over the "
        "difference of the timed `continue`s. **Under gdb, breakpoint set**: gdb sets a "
        "breakpoint on hotloop_countdown's return instruction and times `continue` for "
        f"N = {g1:,} and {g2:,}, same formula, against xgdbvm and against QEMU; this is what a "
        "user with a breakpoint somewhere sees. QEMU 7.2 drops to about a tenth of its speed "
        "as soon as any gdb breakpoint is inserted, hence two QEMU figures. **Machine in one "
        "process**: `scripts/benchlib/inprocess_guest.py` in a fresh process of the venv's "
        f"Python: N = {n1:,} and {n2 // 5:,} on xgdbvm's Machine (default mode, the "
        "clock counting) between two bare-Unicorn measurements of the same two N, "
        f"{IN_PROCESS_ROUNDS} rounds, medians; the reference is the bare runs' mean. The "
        "`xgdbvm run` rows compare processes seconds apart on a host whose speed drifts "
        "by up to 2x from one minute to the next; this row keeps both sides within seconds "
        "and shows what the clock costs."
    )


def _d_hypercall(s: Sizes) -> str:
    n1, n2 = s.hcall_n
    m1, m2 = s.hcall_model_n
    return (
        'Wall time of `xgdbvm run --bootargs "xgdbvm.test=hcall-loop xgdbvm.n=N"` for '
        f"N = {n1:,} and {n2:,} (each call `HYPERVISOR_xen_version(XENVER_version, NULL)`, "
        f"`hvc #0xea1`); round trips per second = ({n2:,} - {n1:,}) / (t2 - t1). Its answer "
        "never changes, so xgdbvm's native exception hook answers it without Python and "
        "hands the calls to tracing in batches (xgdbvm/machine/fastcalls.py). **Model "
        "answers**: the same with `xgdbvm.test=hcall-model`, N = "
        f"{m1:,} and {m2:,}: each call `HYPERVISOR_xen_version(XENVER_get_features, &fi)`, "
        "which the Python hypervisor model answers by writing guest memory, as most "
        "hypercalls need. Reference for both: a "
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


def _d_trace(s: Sizes) -> str:
    (v1, v2), (m1, m2), (h1, h2) = s.trace_speed_n, s.trace_rss_n, s.hcall_n
    return (
        "The trace channel (docs/trace.md) on the firmware's hcall-loop scenario, which makes N "
        "`xen_version` hypercalls (two events each: enter and exit) and powers off. **Events "
        f'delivered**: `xgdbvm run --bootargs "xgdbvm.test=hcall-loop xgdbvm.n={s.trace_n}" '
        "--gdb 127.0.0.1:0 --wait-for-gdb --trace 127.0.0.1:0` holds the guest at its first "
        "instruction; the harness connects 1 or 8 subscribers (loopback TCP, an empty filter "
        "line, then the hello line each), resumes the guest with one `$c#63` packet on a raw "
        "GDB connection, and reads all subscribers in one thread with select, counting lines "
        "without parsing them, as fast as it can. A subscriber's figure is the events it "
        "received over the seconds from the resume to its last event (the final `lifecycle "
        "shutdown`); 8 subscribers in all is every subscriber's events over the latest of "
        "those times. Dropped events are the counts of the `dropped` records; the harness "
        "checks that received + dropped covers every sequence number from the subscriber's "
        "first event to the shutdown (what follows it, such as GDB's stop, is not counted), "
        f"at least 2 x {s.trace_n:,}. Reference for 1 subscriber: the same run with "
        "`--trace-file` instead of `--trace` and no subscriber, the file's events (counted "
        "afterwards) over the seconds from the resume to GDB's `W` stop reply; for 8: the 1 "
        "subscriber run. The guest makes events about as fast as it makes hypercalls, so these "
        "figures are bounded by its speed: the ratios show what serving costs it. **Hypercall "
        "round trips, tracing to a file**: as the hypercall benchmark, wall time of "
        f"`xgdbvm run` for N = {v1:,} and {v2:,}, (N2 - N1) / (t2 - t1), with `--trace-file` "
        f"against the same without it (N = {h1:,} and {h2:,}: untraced, the calls are answered "
        "natively, and tracing each call to a file is what the ratio shows). Events are "
        "produced in batches of up to 1,024 calls, faster than a subscriber reading JSON "
        "lines keeps up with, so the default lossy subscribers can drop and count events "
        "where `--trace-lossless` would make the guest wait. "
        '**Peak RSS**: `xgdbvm run --bootargs "xgdbvm.test='
        f'hcall-loop xgdbvm.n=N" --trace-file FILE` for N = {m2:,} against N = {m1:,} '
        "(measured as in the memory benchmark); the file is checked (sequence numbers without "
        "a gap, the shutdown at the end, at least 2N events) and deleted. Growth per 100,000 "
        "hypercalls = (RSS2 - RSS1) / ((N2 - N1) / 100,000): a flat memory profile puts it "
        "near zero. arm64 only: the channel does not depend on the architecture."
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
        Benchmark(
            "trace", "trace events per second to 1 and 8 subscribers, guest speed and memory "
            "with tracing on", _d_trace, build_trace, ("arm64",),
        ),
    )
}  # fmt: skip


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
