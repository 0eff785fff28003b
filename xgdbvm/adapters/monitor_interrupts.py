"""Monitor commands for the interrupt path: the GIC, event channels, the timer."""

from __future__ import annotations

from xgdbvm.adapters.monitor import MonitorContext, command
from xgdbvm.machine.xen.evtchn import format_ports


@command("gic", usage="[all]", summary="per-IRQ GIC state (enabled, pending or active ones)")
def _gic(context: MonitorContext, args: list[str]) -> str:
    gic = context.machine.board.gic
    cpu = gic.describe_cpu(0)
    states = [s for s in gic.describe(0) if args == ["all"] or s.enabled or s.pending or s.active]
    lines = [f"CPU interface 0: {cpu}", "intid  en pend act prio targets trigger line"]
    lines += [
        f"{s.intid:>5}  {'y' if s.enabled else '.':>2} {'y' if s.pending else '.':>4} "
        f"{'y' if s.active else '.':>3} {s.priority:>4} {s.targets:#09b} "
        f"{'edge' if s.edge else 'level':<7} {'high' if s.line else 'low'}"
        for s in states
    ]
    return "\n".join(lines) + "\n"


@command("evtchn", summary="event channels: ports, bindings, pending and masked bits")
def _evtchn(context: MonitorContext, args: list[str]) -> str:
    evtchn = context.machine.hypervisor.evtchn
    pending = "yes" if evtchn.upcall_pending(0) else "no"
    lines = [f"vCPU 0 evtchn_upcall_pending: {pending}", *format_ports(evtchn.describe())]
    return "\n".join(lines) + "\n"


@command("timer", summary="the generic timers and virtual time")
def _timer(context: MonitorContext, args: list[str]) -> str:
    machine = context.machine
    now = machine.time.counter()
    lines = [
        f"virtual time {machine.time.now_ns() / 1e6:.3f} ms "
        f"({machine.clock.instructions} instructions, {machine.time.idle_ns / 1e6:.3f} ms idle), "
        f"counter {now} at {machine.board.timer.frequency} Hz"
    ]
    for t in machine.board.timer.describe(now):
        lines.append(
            f"  {t.name}: {'enabled' if t.enabled else 'disabled'}"
            f"{', masked' if t.masked else ''}, cval {t.cval}, tval {t.tval}, "
            f"istatus {int(t.istatus)}, line {'high' if t.line else 'low'}"
        )
    return "\n".join(lines) + "\n"
