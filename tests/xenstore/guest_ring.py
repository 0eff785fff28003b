"""The guest's half of a xenstore ring page, as Linux's xenbus drives it (test helper)."""

from __future__ import annotations

import struct

from xgdbvm.machine.xen.xenstore import Message, MessageDecoder, RingOffset

RING = 1024
MASK = 0xFFFFFFFF


class GuestRing:
    def __init__(self, start: int = 0) -> None:
        self.page = bytearray(4096)
        for field in (
            RingOffset.REQ_CONS,
            RingOffset.REQ_PROD,
            RingOffset.RSP_CONS,
            RingOffset.RSP_PROD,
        ):
            self.set(field, start)
        self.decoder = MessageDecoder()

    def get(self, field: RingOffset) -> int:
        value: int = struct.unpack_from("<I", self.page, field)[0]
        return value

    def set(self, field: RingOffset, value: int) -> None:
        struct.pack_into("<I", self.page, field, value & MASK)

    def send(self, data: bytes) -> int:
        """Copy as much of ``data`` as fits into req[]; returns the count written."""
        cons, prod = self.get(RingOffset.REQ_CONS), self.get(RingOffset.REQ_PROD)
        count = min(len(data), RING - ((prod - cons) & MASK))
        for i in range(count):
            self.page[RingOffset.REQ + ((prod + i) & (RING - 1))] = data[i]
        self.set(RingOffset.REQ_PROD, prod + count)
        return count

    def receive(self, limit: int | None = None) -> bytes:
        """Take up to ``limit`` bytes from rsp[] and advance rsp_cons."""
        cons, prod = self.get(RingOffset.RSP_CONS), self.get(RingOffset.RSP_PROD)
        avail = (prod - cons) & MASK
        count = avail if limit is None else min(avail, limit)
        out = bytes(self.page[RingOffset.RSP + ((cons + i) & (RING - 1))] for i in range(count))
        self.set(RingOffset.RSP_CONS, cons + count)
        return out

    def messages(self, limit: int | None = None) -> list[Message]:
        return self.decoder.feed(self.receive(limit))
