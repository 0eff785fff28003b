"""The hotloop on xgdbvm's Machine and on bare Unicorn, alternating in one process.

`python -m benchlib.inprocess_guest ARCH N1 N2 ROUNDS` with the tree under test and
scripts/ on PYTHONPATH prints one JSON object: the Machine's MIPS (default mode) and bare
Unicorn's, each the median of ROUNDS, every Machine measurement between two bare ones.
This host's speed drifts by up to 2x from one minute to the next, and separate processes
a few seconds apart (the `xgdbvm run` rows) carry that drift into their ratio; here the
two sides are seconds apart at most, in the same process, with the same library.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

from benchlib import bare_unicorn
from benchlib.elf import Elf


def _machine_seconds(arch: str, image: Path, dts: Path, n: int) -> float:
    from xgdbvm.machine.board import MachineConfig
    from xgdbvm.machine.machine import Machine
    from xgdbvm.machine.stop import Shutdown

    bootargs = f"xgdbvm.test=hotloop xgdbvm.n={n}"
    machine = Machine(MachineConfig(arch=arch, image=image, dts=dts, bootargs=bootargs))
    started = time.perf_counter()
    for _ in range(1000):  # the hotloop boots, loops, prints and powers off
        if isinstance(machine.run(), Shutdown):
            return time.perf_counter() - started
    raise RuntimeError("the hotloop scenario did not power off")


def main(arch: str, n1: int, n2: int, rounds: int) -> dict[str, float]:
    from xgdbvm.cli import default_dts, default_image

    image, dts = default_image(arch), default_dts(arch)
    elf = Elf(image)
    work = 2 * (n2 - n1)
    machine_mips, bare_mips = [], []
    for _ in range(rounds):
        before = bare_unicorn.hotloop_times(arch, elf, (n1, n2))
        t1, t2 = (_machine_seconds(arch, image, dts, n) for n in (n1, n2))
        after = bare_unicorn.hotloop_times(arch, elf, (n1, n2))
        machine_mips.append(work / (t2 - t1) / 1e6)
        bare_mips.append(work / ((before[1] - before[0] + after[1] - after[0]) / 2) / 1e6)
    return {"mips": statistics.median(machine_mips), "bare_mips": statistics.median(bare_mips)}


if __name__ == "__main__":
    arch_arg, n1_arg, n2_arg, rounds_arg = sys.argv[1:]
    print(json.dumps(main(arch_arg, int(n1_arg), int(n2_arg), int(rounds_arg))))
