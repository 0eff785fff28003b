"""Readable text for ``monitor translate`` and ``monitor pagetables``.

One line per walk step (level, table base[index], descriptor address and
value, decoded fields) and a final ``=>`` line with the result or the fault.
"""

from __future__ import annotations

from xgdbvm.machine.mmu import long, short
from xgdbvm.machine.mmu.fault import TableFormat
from xgdbvm.machine.mmu.result import PageTableMap, Translation, WalkStep, human_size

_NAMES = {
    TableFormat.NONE: "MMU off",
    TableFormat.SHORT: "ARMv7 short-descriptor",
    TableFormat.LPAE: "ARMv7 LPAE",
    TableFormat.AARCH64: "AArch64",
}


def describe_step(step: WalkStep) -> str:
    if step.format is TableFormat.SHORT:
        return short.describe(step)
    return long.describe(step)


def format_step(step: WalkStep) -> str:
    width = 10 if step.format is TableFormat.SHORT else 18
    value = "--" if step.descriptor is None else f"{step.descriptor:#0{width}x}"
    return (
        f"  L{step.level} {step.table:#x}[{step.index}] @{step.address:#x} = {value}  "
        f"{describe_step(step)}"
    )


def format_translation(translation: Translation) -> list[str]:
    """The walk of one VA as lines of text."""
    header = f"{translation.va:#x}: {_NAMES[translation.format]}"
    if translation.ttbr is not None:
        header += f", TTBR{translation.ttbr}"
    lines = [header]
    lines += [format_step(step) for step in translation.steps]
    if translation.ipa is not None:
        result = f"  => IPA {translation.ipa:#x}"
        if translation.page_size is not None:
            result += f" ({human_size(translation.page_size)} mapping)"
        elif not translation.mmu_enabled:
            result += " (identity)"
        if translation.attributes is not None:
            result += f" {translation.attributes}"
        lines.append(result)
    if translation.fault is not None:
        lines.append(f"  => {translation.fault.describe()}")
    return lines


def format_mappings(table: PageTableMap) -> list[str]:
    """One line per merged range, then a note if the listing is incomplete."""
    width = 8 if table.format is TableFormat.SHORT else 16
    lines = [
        f"{r.va:0{width}x}-{r.va_end - 1:0{width}x} -> {r.ipa:#x} "
        f"({human_size(r.size)}) {r.attributes}"
        for r in table.ranges
    ]
    if table.truncated:
        lines.append(f"... truncated after {len(table.ranges)} ranges")
    for address in table.unreadable_tables:
        lines.append(f"unreadable table at {address:#x}")
    return lines
