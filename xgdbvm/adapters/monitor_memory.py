"""Monitor commands that explain memory: stage 1, stage 2 and where faults come from."""

from __future__ import annotations

from xgdbvm.adapters.monitor import MonitorContext, MonitorError, command
from xgdbvm.machine import mmu
from xgdbvm.machine.memory import PAGE_SHIFT


def _number(text: str) -> int:
    try:
        return int(text.replace("_", ""), 0)
    except ValueError:
        raise MonitorError(f"{text!r} is not a number") from None


@command("translate", usage="ADDR", summary="walk ADDR through stage 1 and stage 2, step by step")
def _translate(context: MonitorContext, args: list[str]) -> str:
    if len(args) != 1:
        raise MonitorError("usage: monitor translate ADDR")
    va = _number(args[0])
    machine = context.machine
    walk = machine.translate(va)
    lines = mmu.format_translation(walk)
    if walk.ipa is None:
        lines.append("stage 2: not reached (stage 1 gives no IPA)")
    else:
        extent = machine.memory.lookup(walk.ipa >> PAGE_SHIFT)
        if extent is None:
            lines.append(f"stage 2: ipa {walk.ipa:#x} -> no p2m entry (a stage-2 fault)")
        else:
            maddr = machine.memory.machine_address(walk.ipa)
            rw = "rw" if extent.writable else "ro"
            lines.append(
                f"stage 2: ipa {walk.ipa:#x} -> machine {maddr:#x} "
                f"({extent.kind.value}, {rw}, {extent.backing.name})"
            )
    return "\n".join(lines) + "\n"


@command("pagetables", summary="the guest's current stage-1 map as merged ranges")
def _pagetables(context: MonitorContext, args: list[str]) -> str:
    table = context.machine.stage1_map()
    if table is None:
        return "the guest's MMU is off: virtual addresses are guest-physical addresses\n"
    return "\n".join(mmu.format_mappings(table)) + "\n"


@command(
    "p2m", usage="[GFN[-GFN]]", summary="the stage-2 map: RAM, shared_info, grant frames, holes"
)
def _p2m(context: MonitorContext, args: list[str]) -> str:
    memory = context.machine.hypervisor.memory
    if args:
        first_text, _, last_text = args[0].partition("-")
        first = _number(first_text)
        last = _number(last_text) if last_text else first
    else:
        extents = context.machine.memory.extents
        first, last = extents[0].gfn, extents[-1].end - 1
    if last < first:
        raise MonitorError("the range is empty")
    header = (
        f"p2m ({context.machine.config.p2m_layout}): {memory.tot_pages} pages owned, "
        f"max {memory.max_pages}"
    )
    lines = memory.describe(first, last) or ["  (nothing mapped in that range)"]
    return header + "\n" + "\n".join(lines) + "\n"


@command("mem", usage="virtual|ipa|machine", summary="the address space GDB reads and writes")
def _mem(context: MonitorContext, args: list[str]) -> str:
    from xgdbvm.adapters.gdb_target import AddressSpace

    if not args:
        return f"GDB memory accesses use {context.target.address_space.value} addresses\n"
    try:
        context.target.address_space = AddressSpace(args[0])
    except ValueError:
        raise MonitorError("choose virtual, ipa or machine") from None
    note = " (read-only)" if args[0] == "machine" else ""
    return f"GDB memory accesses now use {args[0]} addresses{note}\n"


@command(
    "catch",
    "stage2-fault",
    usage="on|off",
    summary="stop in GDB at a stage-2 fault, before the abort",
)
def _catch(context: MonitorContext, args: list[str]) -> str:
    if args and args[0] in ("on", "off"):
        context.machine.catch_stage2_faults = args[0] == "on"
    elif args:
        raise MonitorError("usage: monitor catch stage2-fault on|off")
    state = "on" if context.machine.catch_stage2_faults else "off"
    return f"catching stage-2 faults: {state}\n"


@command("info", "faults", summary="the last stage-2 faults: access, VA, IPA, PC")
def _faults(context: MonitorContext, args: list[str]) -> str:
    faults = context.machine.stage2_faults
    if not faults:
        return "no stage-2 faults\n"
    return "".join(
        f"  {f.access:<5} va {f.va:#x} ipa {_fmt(f.ipa)} pc {f.pc:#x}: {f.why}\n" for f in faults
    )


def _fmt(value: int | None) -> str:
    return "none" if value is None else f"{value:#x}"
