"""./scripts/bench [NAME...] [--quick] [--runs N] [--arch ARCH] [--rev REV] [--output PATH]

Exit status: 0 when the harness ran (benchmarks that could not run say why in
their rows), 1 when the harness itself hit an error, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import datetime
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchlib import procs, report, sysinfo, tree
from benchlib.benchmarks import BENCHMARKS, FULL, QUICK, Ctx, log
from benchlib.targets import ARCHES

DOC = tree.REPO / "docs" / "benchmarks.md"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description="Benchmarks of xgdbvm against QEMU and bare Unicorn (see docs/benchmarks.md).",
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run (default: all): {' '.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one run each, smallest sizes, arm64 only (what CI runs)",
    )
    parser.add_argument("--runs", type=int, help="alternating runs per figure (default 5, quick 1)")
    parser.add_argument(
        "--arch",
        action="append",
        choices=sorted(ARCHES),
        help="only this architecture (repeatable; default both, quick arm64)",
    )
    parser.add_argument(
        "--rev",
        help="measure this git revision, exported and built in a "
        "temporary directory, instead of the working tree",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="write the report here (default: "
        "docs/benchmarks.md after a full run of every benchmark on both arches)",
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {' '.join(unknown)}; choose from {' '.join(BENCHMARKS)}")
    if args.runs is not None and args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: list[str]) -> int:
    args = parse(argv)
    if args.list:
        for name, bench in BENCHMARKS.items():
            print(f"{name:10} {bench.summary}")
        return 0
    procs.install_cleanup()
    names = args.names or list(BENCHMARKS)
    arches = args.arch or (["arm64"] if args.quick else ["arm64", "arm32"])
    runs = args.runs or (1 if args.quick else 5)
    sizes = QUICK if args.quick else FULL
    complete = not args.quick and not args.names and not args.arch
    output = args.output or (DOC if complete else None)

    workdir = Path(tempfile.mkdtemp(prefix="xgdbvm-bench-"))
    started = time.monotonic()
    load_before = sysinfo.load_average()
    try:
        if args.rev:
            log(f"bench: exporting and building {args.rev} ...")
        try:
            measured = tree.snapshot(args.rev, workdir) if args.rev else tree.working_tree()
        except Exception as error:  # any failure here means the tree cannot be measured
            log(f"bench: {error}")
            return 2
        log(
            f"bench: measuring {measured.label}; {runs} run(s) per figure; "
            f"{'quick' if args.quick else 'full'} sizes; arches {' '.join(arches)}"
        )
        outcomes: list[report.Outcome] = []
        for name in names:
            bench = BENCHMARKS[name]
            for arch in arches:
                if arch not in bench.arches:
                    continue
                case = bench.build(arch, sizes)
                ctx = Ctx(measured, ARCHES[arch], sizes, workdir)
                outcomes.append(report.run_case(case, ctx, runs))
        all_lines = [line for o in outcomes for line in report.lines(o)]
        table = report.text_table(all_lines)
        print(table, flush=True)

        bugs = [bug for o in outcomes for bug in o.harness_bugs]
        command = (
            "./scripts/bench " + " ".join(shlex.quote(a) for a in argv)
            if argv
            else "./scripts/bench"
        )
        info = report.RunInfo(
            date=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            command=command.strip(), tree=measured.label, runs=runs, quick=args.quick,
            sizes=sizes, machine=sysinfo.machine(), versions=sysinfo.versions(),
            load_before=load_before, load_after=sysinfo.load_average(),
            duration_s=time.monotonic() - started, notes=[],
        )  # fmt: skip
        generated = report.markdown(info, all_lines, names)
        if output is not None:
            report.write_markdown(output, generated)
            log(f"bench: wrote {output}")
        else:
            log("bench: report rendered, not written (partial or quick run; --output writes it)")
        if bugs:
            log(f"bench: {len(bugs)} harness error(s); see the tracebacks above")
            return 1
        return 0
    finally:
        procs.kill_all()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
