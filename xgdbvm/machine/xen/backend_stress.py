"""The event-channel stress backend: S events, each only once the guest consumed the last.

Protocol (firmware/README.md, evtchn-stress): the guest's first dom0 channel
is the control port C, the next four the stress ports. A send on C starts the
stress; the backend then raises events on stress ports whose pending bit in
the guest's shared_info is clear, a few at a time whenever the machine polls
it (between guest instructions, while the guest hammers the same bitmap words
with exclusive read-modify-writes), and sends once on C when S are out.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from xgdbvm.machine.xen.backend import Dom0Backend
from xgdbvm.machine.xen.evtchn import EventChannels

DEFAULT_TOTAL = 100_000
STRESS_PORTS = 4
POLL_INSTRUCTIONS = 2_000  # how often the machine lets the backend raise more


def stress_total(bootargs: str) -> int | None:
    """S, if the bootargs select the evtchn-stress scenario."""
    if not re.search(r"(^|\s)xgdbvm\.test=evtchn-stress(\s|$)", bootargs):
        return None
    found = re.search(r"(^|\s)xgdbvm\.n=(0x[0-9a-fA-F]+|\d+)(\s|$)", bootargs)
    return int(found.group(2), 0) if found else DEFAULT_TOTAL


class EventStress:
    def __init__(self, backend: Dom0Backend, evtchn: EventChannels, total: int) -> None:
        self._backend = backend
        self._evtchn = evtchn
        self.total = total
        self.reset()
        backend.on_adopt = self._adopt

    def reset(self) -> None:
        self.control: int | None = None  # backend port of C
        self.ports: list[tuple[int, int]] = []  # (guest port, backend port)
        self.started = False
        self.sent = 0
        self.done = False

    @property
    def active(self) -> bool:
        return self.started and not self.done

    def _adopt(self, guest_port: int, backend_port: int) -> Callable[[], None] | None:
        """Take over the scenario's channels from the echo service."""
        if self.control is None:
            self.control = backend_port
            return self.on_control
        if len(self.ports) < STRESS_PORTS:
            self.ports.append((guest_port, backend_port))
            return lambda: None
        return None

    def on_control(self) -> None:
        self.started = True

    def poll(self) -> None:
        """Raise an event on every stress port the guest has drained."""
        if not self.active:
            return
        pending = self._evtchn.two_level.is_pending
        for guest_port, backend_port in self.ports:
            if self.sent >= self.total:
                break
            if not pending(guest_port):
                self._backend.notify(backend_port)
                self.sent += 1
        if self.sent >= self.total and self.control is not None:
            self.done = True
            self._backend.notify(self.control)
