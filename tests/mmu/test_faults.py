"""Fault status codes against the ARM ARM tables, and FSR/ESR assembly."""

from __future__ import annotations

import pytest

from xgdbvm.machine.mmu import Access, Fault, FaultKind, TableFormat, status_code

# ARM DDI 0406C table B3-23 (short-descriptor FS).
SHORT = {
    (FaultKind.ACCESS_FLAG, 1): 0b00011,
    (FaultKind.ACCESS_FLAG, 2): 0b00110,
    (FaultKind.TRANSLATION, 1): 0b00101,
    (FaultKind.TRANSLATION, 2): 0b00111,
    (FaultKind.DOMAIN, 1): 0b01001,
    (FaultKind.DOMAIN, 2): 0b01011,
    (FaultKind.PERMISSION, 1): 0b01101,
    (FaultKind.PERMISSION, 2): 0b01111,
    (FaultKind.TABLE_READ, 1): 0b01100,
    (FaultKind.TABLE_READ, 2): 0b01110,
}
# ARM DDI 0406C table B3-24 / ARM DDI 0487 ESR_ELx.DFSC: 0000LL, 0001LL, 0010LL, 0011LL, 0101LL.
LONG = {
    FaultKind.ADDRESS_SIZE: 0x00,
    FaultKind.TRANSLATION: 0x04,
    FaultKind.ACCESS_FLAG: 0x08,
    FaultKind.PERMISSION: 0x0C,
    FaultKind.TABLE_READ: 0x14,
}


@pytest.mark.parametrize(("key", "code"), SHORT.items())
def test_short_codes(key: tuple[FaultKind, int], code: int) -> None:
    assert status_code(TableFormat.SHORT, *key) == code


@pytest.mark.parametrize("fmt", [TableFormat.LPAE, TableFormat.AARCH64])
def test_long_codes(fmt: TableFormat) -> None:
    for kind, base in LONG.items():
        assert [status_code(fmt, kind, level) for level in range(4)] == [base + i for i in range(4)]
    with pytest.raises(ValueError):
        status_code(fmt, FaultKind.DOMAIN, 1)


def test_short_fsr_layout() -> None:
    fault = Fault.make(TableFormat.SHORT, FaultKind.PERMISSION, 2, domain=0xA)
    assert fault.fsr(Access.READ) == 0x0AF
    assert fault.fsr(Access.WRITE) == 0x8AF
    assert fault.fsr(Access.FETCH) == 0x00F
    # FS[4] lives in bit 10.
    assert Fault(FaultKind.TRANSLATION, 1, TableFormat.SHORT, 0b10110).fsr(Access.FETCH) == 0x406


def test_long_fsr_layouts() -> None:
    lpae = Fault.make(TableFormat.LPAE, FaultKind.TRANSLATION, 2)
    assert (lpae.fsr(Access.READ), lpae.fsr(Access.WRITE)) == (0x206, 0xA06)
    a64 = Fault.make(TableFormat.AARCH64, FaultKind.ACCESS_FLAG, 3)
    assert (a64.fsr(Access.READ), a64.fsr(Access.WRITE), a64.fsr(Access.FETCH)) == (0xB, 0x4B, 0xB)
    assert "access-flag fault, level 3 (DFSC 0x0b)" in a64.describe()
