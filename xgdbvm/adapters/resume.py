"""How the guest is to run next, as a debugger asks it: the runner's one input.

Its own module, apart from the GDB target, so that the runner (and a run that no
debugger ever attaches to) does not import all of GDB support to name it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ResumeMode(Enum):
    CONTINUE = "continue"
    STEP = "step"
    RANGE_STEP = "range-step"


@dataclass(frozen=True)
class Resume:
    mode: ResumeMode
    start: int = 0
    end: int = 0
