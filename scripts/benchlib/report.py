"""Running the cases, summarising runs, and the table and docs/benchmarks.md."""

from __future__ import annotations

import statistics
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from benchlib.benchmarks import BENCHMARKS, Case, Ctx, Sizes, log
from benchlib.procs import BenchError

GIVE_UP_AFTER = 2  # failures of one contender before its later runs are skipped


@dataclass
class Outcome:
    case: Case
    runs: int
    values: list[dict[str, list[float]]]
    errors: list[list[str]]
    harness_bugs: list[str] = field(default_factory=list)
    # The same values by run number, to pair each with its reference's from that run.
    by_run: list[dict[str, dict[int, float]]] = field(default_factory=list)


def run_case(case: Case, ctx: Ctx, runs: int) -> Outcome:
    outcome = Outcome(
        case,
        runs,
        [{} for _ in case.contenders],
        [[] for _ in case.contenders],
        by_run=[{} for _ in case.contenders],
    )
    for run in range(runs):
        for index, contender in enumerate(case.contenders):
            if len(outcome.errors[index]) >= GIVE_UP_AFTER:
                continue
            tag = f"[{case.bench} {case.arch} {run + 1}/{runs}] {contender.name}"
            started = time.monotonic()
            try:
                values = contender.measure(ctx)
            except BenchError as error:
                outcome.errors[index].append(str(error))
                log(f"{tag}: FAILED: {error}")
                continue
            except Exception as error:  # a bug in the harness: report it and carry on
                message = f"{type(error).__name__}: {error}"
                outcome.errors[index].append(f"harness error: {message}")
                outcome.harness_bugs.append(f"{tag}: {traceback.format_exc()}")
                log(f"{tag}: HARNESS ERROR: {traceback.format_exc()}")
                continue
            for key, value in values.items():
                outcome.values[index].setdefault(key, []).append(value)
                outcome.by_run[index].setdefault(key, {})[run] = value
            shown = ", ".join(f"{k}={_num(v)}" for k, v in values.items())
            log(f"{tag}: {shown} ({time.monotonic() - started:.1f} s)")
    return outcome


def _num(x: float) -> str:
    ax = abs(x)
    if ax >= 100:
        return f"{x:,.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    if ax >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def _fmt_ratio(ratio: float) -> str:
    return f"{ratio:.2f}" if ratio >= 0.1 else f"{ratio:.2g}"


def _ratio(outcome: Outcome, left: tuple[int, str], right: tuple[int, str]) -> str:
    """The median of the runs' own ratios, each run's value over its reference's from
    the same run, with their range: a host whose speed drifts between runs moves both."""
    mine = outcome.by_run[left[0]].get(left[1], {})
    theirs = outcome.by_run[right[0]].get(right[1], {})
    ratios = [
        mine[run] / theirs[run]
        for run in sorted(mine.keys() & theirs.keys())
        if mine[run] > 0 and theirs[run] > 0  # not a value (like a per-MiB cost) at zero
    ]
    if not ratios:
        return "—"  # a failure on either side
    text = f"{_fmt_ratio(statistics.median(ratios))}x"
    if len(ratios) > 1:
        text += f" ({_fmt_ratio(min(ratios))} .. {_fmt_ratio(max(ratios))})"
    return text


@dataclass(frozen=True)
class Line:
    bench: str
    arch: str
    metric: str
    xgdbvm: str
    reference: str
    reference_value: str
    ratio: str


def _cell(outcome: Outcome, side: tuple[int, str]) -> str:
    index, key = side
    values = outcome.values[index].get(key, [])
    errors = outcome.errors[index]
    if not values:
        reason = errors[-1] if errors else "no value"
        return f"failed: {reason}"
    text = _num(statistics.median(values))
    if len(values) > 1:
        text += f" ({_num(min(values))} .. {_num(max(values))})"
    if errors:
        text += f" [{len(errors)} of {outcome.runs} runs failed]"
    return text


def lines(outcome: Outcome) -> list[Line]:
    case = outcome.case
    result = []
    for row in case.rows:
        arrow = "↑" if row.higher_is_better else "↓"
        left_text = _cell(outcome, row.left)
        if row.right is None:
            ref_name, ref_text, ratio = "—", "—", "—"
        else:
            ref_name = row.reference or case.contenders[row.right[0]].name
            ref_text = _cell(outcome, row.right)
            ratio = _ratio(outcome, row.left, row.right)
        result.append(
            Line(case.bench, case.arch, f"{row.metric} ({row.unit} {arrow})", left_text, ref_name,
                 ref_text, ratio)
        )  # fmt: skip
    return result


HEADERS = ("benchmark", "arch", "metric", "xgdbvm", "reference", "reference value", "xgdbvm/ref")


def text_table(all_lines: list[Line]) -> str:
    rows = [HEADERS] + [
        (x.bench, x.arch, x.metric, x.xgdbvm, x.reference, x.reference_value, x.ratio)
        for x in all_lines
    ]
    widths = [min(60, max(len(r[i]) for r in rows)) for i in range(len(HEADERS))]
    out = []
    for n, row in enumerate(rows):
        out.append(
            "  ".join(cell[:60].ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        )
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(all_lines: list[Line]) -> str:
    out = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for x in all_lines:
        cells = (x.bench, x.arch, x.metric, x.xgdbvm, x.reference, x.reference_value, x.ratio)
        out.append("| " + " | ".join(_md_escape(c) for c in cells) + " |")
    return "\n".join(out)


BEGIN = "<!-- bench:begin: generated by ./scripts/bench; edits up to bench:end are overwritten -->"
END = "<!-- bench:end -->"
DEFAULT_HEAD = "# Benchmarks\n\n"
DEFAULT_TAIL = """

## Changes and what they gained

Record here each optimisation made for issue 9, with the figures of a
`./scripts/bench NAME` run before and after it. This section is outside the
generated block and survives regeneration.
"""


@dataclass(frozen=True)
class RunInfo:
    date: str
    command: str
    tree: str
    runs: int
    quick: bool
    sizes: Sizes
    machine: dict[str, str]
    versions: dict[str, str]
    load_before: str
    load_after: str
    duration_s: float
    notes: list[str]


def markdown(info: RunInfo, all_lines: list[Line], benches: list[str]) -> str:
    parts = [
        BEGIN,
        "",
        f"Measured {info.date} by `{info.command}` on {info.tree}, "
        f"{'quick sizes' if info.quick else 'full sizes'}, {info.runs} alternating "
        f"run{'s' if info.runs != 1 else ''} per figure ({info.duration_s / 60:.1f} min in all).",
        "",
        "`./scripts/bench` runs every benchmark on both architectures (5 alternating runs "
        "each) and rewrites this block; `./scripts/bench NAME...` runs some, `--arch ARCH` one "
        "architecture, `--runs N` sets the runs, `--rev REV` measures a commit exported and "
        "built in a temporary directory instead of the working tree, and `--quick` (what CI "
        "runs) does one run of each at the smallest sizes on arm64 only and writes nothing "
        "unless given `--output PATH`.",
        "",
        "## Machine and versions",
        "",
        *(f"- {k}: {v}" for k, v in info.machine.items()),
        f"- load average (1, 5, 15 min) before: {info.load_before}; after: {info.load_after}"
        " (other work shares this machine; compare ratios, which come from the same minutes)",
        *(f"- {k}: {v}" for k, v in info.versions.items()),
        "",
        "## Results",
        "",
        "Each cell is the median of the runs, with the range (min .. max) in parentheses. Every "
        "run of a benchmark measures xgdbvm and then each reference, so they alternate. "
        "↑: higher is better, ↓: lower is better. xgdbvm/ref is the median of the runs' "
        "own ratios (each run's xgdbvm value over the reference's from the same run), with "
        "their range: this host's speed drifts by up to 2x from one minute to the next, and "
        "a run's two values share their minutes. xgdbvm leads where it is above 1 on a ↑ "
        "row or below 1 on a ↓ row.",
        "",
        markdown_table(all_lines),
        "",
    ]
    if info.notes:
        parts += ["Notes from this run:", "", *(f"- {n}" for n in info.notes), ""]
    parts += ["## What is measured", ""]
    for name in benches:
        bench = BENCHMARKS[name]
        parts += [f"### {name}: {bench.summary}", "", bench.describe(info.sizes), ""]
    parts += [
        "QEMU is started as `"
        + "qemu-system-aarch64 -M virt -cpu cortex-a57 -m 128M -display none "
        "-nic none -serial null -monitor none -kernel guest.elf -S -gdb tcp:127.0.0.1:PORT`"
        " (arm32: `qemu-system-arm -M virt -cpu cortex-a15`); it loads the ELF at its link "
        "address (0x40080000 / 0x40008000) with the pc on `_start`, as xgdbvm does. xgdbvm "
        "serves GDB as `xgdbvm run --arch ARCH --gdb 127.0.0.1:0 --wait-for-gdb`, the port "
        "read from its `GDB server on` line. gdb is `gdb-multiarch -q -nx -batch guest.elf`. "
        "All servers listen on loopback only; each measurement starts its own processes and "
        "kills them afterwards.",
        "",
        END,
    ]
    return "\n".join(parts)


def write_markdown(path: Path, generated: str) -> None:
    head, tail = DEFAULT_HEAD, DEFAULT_TAIL
    if path.exists():
        old = path.read_text()
        if BEGIN in old and END in old:
            head = old[: old.index(BEGIN)]
            tail = old[old.index(END) + len(END) :]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(head + generated + tail)
