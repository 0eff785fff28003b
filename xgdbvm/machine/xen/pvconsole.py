"""The PV console backend (xenconsoled's part): the guest's console ring page.

xencons_interface (public/io/console.h): in[1024] @0 (backend -> guest),
out[2048] @1024 (guest -> backend), in_cons @3072, in_prod @3076,
out_cons @3080, out_prod @3084, connection u8 @3088 (0 connected).
Indexes are free-running u32. A guest whose indexes are more than a ring
apart is ignored until it fixes them; nothing it writes can make the
backend read outside the page or buffer without bound.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from xgdbvm.machine.xen.backend import Dom0Backend
from xgdbvm.machine.xen.evtchn import EventChannels

IN, OUT = 0, 1024
IN_SIZE, OUT_SIZE = 1024, 2048
IN_CONS, IN_PROD, OUT_CONS, OUT_PROD, CONNECTION = 3072, 3076, 3080, 3084, 3088
MASK32 = 0xFFFF_FFFF
MAX_PENDING_INPUT = 1 << 16


def _get(page: memoryview, offset: int) -> int:
    value: int = struct.unpack_from("<I", page, offset)[0]
    return value


def _put(page: memoryview, offset: int, value: int) -> None:
    struct.pack_into("<I", page, offset, value & MASK32)


class PvConsole:
    def __init__(
        self,
        evtchn: EventChannels,
        backend: Dom0Backend,
        page: Callable[[], memoryview | None],
        guest_port: int,
        output: Callable[[bytes], None],
    ) -> None:
        self._evtchn = evtchn
        self._backend = backend
        self._page = page
        self._guest_port = guest_port
        self._output = output
        self._input = bytearray()
        self.start()

    def start(self) -> None:
        self._input.clear()
        page = self._page()
        if page is not None:
            page[CONNECTION] = 0  # the daemon is attached
        self.backend_port = self._backend.bind(self._guest_port, self.serve)

    def serve(self) -> None:
        """Drain the guest's output and feed it any queued input."""
        page = self._page()
        if page is None:
            return
        notify = self._drain_output(page) | self._push_input(page)
        if notify:
            self._backend.notify(self.backend_port)

    def send_input(self, data: bytes) -> int:
        """Queue host input for the guest (bounded); call ``serve`` at a boundary."""
        room = MAX_PENDING_INPUT - len(self._input)
        self._input += data[:room]
        return min(len(data), room)

    def _drain_output(self, page: memoryview) -> bool:
        cons, prod = _get(page, OUT_CONS), _get(page, OUT_PROD)
        count = (prod - cons) & MASK32
        if count == 0 or count > OUT_SIZE:
            return False
        data = bytearray()
        for i in range(count):
            data.append(page[OUT + ((cons + i) & (OUT_SIZE - 1))])
        _put(page, OUT_CONS, prod)
        self._output(bytes(data))
        return True

    def _push_input(self, page: memoryview) -> bool:
        if not self._input:
            return False
        cons, prod = _get(page, IN_CONS), _get(page, IN_PROD)
        used = (prod - cons) & MASK32
        if used > IN_SIZE:
            return False
        room = IN_SIZE - used
        chunk = self._input[:room]
        for i, byte in enumerate(chunk):
            page[IN + ((prod + i) & (IN_SIZE - 1))] = byte
        del self._input[: len(chunk)]
        _put(page, IN_PROD, prod + len(chunk))
        return bool(chunk)
