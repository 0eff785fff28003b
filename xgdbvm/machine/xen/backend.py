"""The emulated backend domain (dom0): what its daemons do with the guest's channels.

Real dom0 runs xenstored, xenconsoled and device backends that bind the
guest's event channels and answer on them. Here each service registers a
handler for the backend port it bound; a guest channel that a guest opens
towards dom0 on its own (alloc_unbound with remote domain 0) is adopted by
an echo service that sends every notification straight back, which is what
firmware tests of the event path need.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from xgdbvm.machine.xen.evtchn import ChannelState, EventChannels, Virq

log = logging.getLogger("xgdbvm.backend")

BACKEND_DOMID = 0


class Dom0Backend:
    def __init__(self) -> None:
        self.evtchn: EventChannels | None = None
        self._handlers: dict[int, Callable[[], None]] = {}
        self._reserved: set[int] = set()  # guest ports a named service will bind
        self.echoed = 0
        self.adopted: list[int] = []  # guest ports the echo service bound, in order
        self.on_adopt: Callable[[int, int], Callable[[], None] | None] | None = None
        self.debug_virq_sent = False
        # Told of every notification dom0 sends the guest (guest port), for the trace.
        self.on_notify: Callable[[int], None] | None = None

    def attach(self, evtchn: EventChannels) -> None:
        self.evtchn = evtchn

    def reset(self) -> None:
        self._handlers.clear()
        self._reserved.clear()
        self.echoed = 0
        self.adopted.clear()
        self.debug_virq_sent = False

    def reserve(self, guest_port: int) -> None:
        """A toolstack port (xenstore, console) that its own service binds, not the echo."""
        self._reserved.add(guest_port)

    def bind(self, guest_port: int, handler: Callable[[], None]) -> int:
        assert self.evtchn is not None
        backend_port = self.evtchn.backend_bind_interdomain(guest_port)
        self._handlers[backend_port] = handler
        return backend_port

    def notify(self, backend_port: int) -> None:
        """dom0 sends on its end of a channel: the guest's port becomes pending."""
        assert self.evtchn is not None
        self.evtchn.notify_guest(backend_port)
        if self.on_notify is not None:
            guest_port = self.evtchn.guest_port_of(backend_port)
            if guest_port is not None:
                self.on_notify(guest_port)

    def on_send(self, backend_port: int) -> None:
        handler = self._handlers.get(backend_port)
        if handler is not None:
            handler()

    def adopt_new_channels(self) -> None:
        """Bind every guest channel left unbound for dom0 that no service reserved."""
        if self.evtchn is None:
            return
        for info in self.evtchn.describe():
            if (
                info.domid != BACKEND_DOMID
                and info.state is ChannelState.unbound
                and info.remote_dom == BACKEND_DOMID
                and info.port not in self._reserved
            ):
                self._reserved.add(info.port)
                backend_port = self.bind(info.port, lambda: None)
                self._handlers[backend_port] = functools.partial(self._echo, backend_port)
                self.adopted.append(info.port)
                if self.on_adopt is not None:
                    # A scenario service may take the channel over from the echo.
                    handler = self.on_adopt(info.port, backend_port)
                    if handler is not None:
                        self._handlers[backend_port] = handler
                log.debug("dom0 backend bound guest port %d", info.port)

    def _echo(self, backend_port: int) -> None:
        assert self.evtchn is not None
        if not self.debug_virq_sent:
            # Stands in for the 'q' debug key: Xen raises VIRQ_DEBUG, once per boot,
            # no later than the first echo (firmware/README.md, events).
            self.debug_virq_sent = True
            self.evtchn.raise_virq(Virq.DEBUG)
        self.echoed += 1
        self.notify(backend_port)
