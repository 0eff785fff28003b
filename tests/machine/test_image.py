"""Image formats, placement, and the errors bad images give."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tests.conftest import firmware
from xgdbvm.machine.errors import ConfigError
from xgdbvm.machine.image import load_image

RAM0 = 0x40000000


def test_elf_segments_entry_and_symbols() -> None:
    image = load_image(firmware("arm64"), "arm64", RAM0)
    assert image.format == "elf"
    assert image.entry == 0x40080000
    names = {s.name for s in image.symbols}
    assert {"guest_main", "boot_stage", "spin_count", "loop_body"} <= names


def test_arm64_image_goes_to_ram0_plus_text_offset(tmp_path: Path) -> None:
    header = bytearray(64)
    struct.pack_into("<Q", header, 8, 0x200000)
    struct.pack_into("<I", header, 56, 0x644D5241)
    path = tmp_path / "Image"
    path.write_bytes(bytes(header) + b"\0" * 64)
    image = load_image(path, "arm64", RAM0)
    assert (image.format, image.entry, image.start) == ("Image", RAM0 + 0x200000, RAM0 + 0x200000)
    with pytest.raises(ConfigError, match="cannot boot on arm32"):
        load_image(path, "arm32", RAM0)


def test_zimage_goes_to_ram0_plus_0x8000(tmp_path: Path) -> None:
    header = bytearray(0x40)
    struct.pack_into("<III", header, 0x24, 0x016F2818, 0, 0x40)
    path = tmp_path / "zImage"
    path.write_bytes(bytes(header))
    image = load_image(path, "arm32", RAM0)
    assert (image.format, image.entry) == ("zImage", RAM0 + 0x8000)


@pytest.mark.parametrize("cut", [8, 60, 300, 4000])
def test_truncated_elf_is_one_clear_error(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "cut.elf"
    path.write_bytes(firmware("arm64").read_bytes()[:cut])
    with pytest.raises(ConfigError, match="truncated or corrupt ELF"):
        load_image(path, "arm64", RAM0)


def test_unknown_format_and_wrong_machine(tmp_path: Path) -> None:
    path = tmp_path / "junk"
    path.write_bytes(b"hello world" * 20)
    with pytest.raises(ConfigError, match="not an ELF"):
        load_image(path, "arm64", RAM0)
    with pytest.raises(ConfigError, match="is not arm32"):
        load_image(firmware("arm64"), "arm32", RAM0)
    with pytest.raises(ConfigError, match="No such file"):
        load_image(tmp_path / "missing", "arm64", RAM0)
