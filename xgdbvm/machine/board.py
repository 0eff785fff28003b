"""The board: builds the machine the guest device tree describes.

Only the board knows addresses and interrupt numbers, and it learns them all
from the device tree: RAM banks from the memory node, the UART and GIC from
their compatibles, the Xen version, grant window and event PPI from
/hypervisor. It then does what Xen's toolstack does before the first
instruction (xg_dom_arm.c, libxl_arm.c): populate RAM (up to 3 GiB in bank 0,
the rest in bank 1), the magic pages, patch /memory and /chosen/bootargs,
place the image and the DTB, and set up the vCPU.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import unicorn

from xgdbvm.machine.cpu.base import BootState, Cpu
from xgdbvm.machine.devices.generic_timer import GenericTimer
from xgdbvm.machine.devices.gic import Gicv2
from xgdbvm.machine.devices.pl011 import Pl011
from xgdbvm.machine.devicetree import DeviceNode, DeviceTree, HypervisorNode, MemoryBank
from xgdbvm.machine.errors import ConfigError
from xgdbvm.machine.image import GuestImage, load_image
from xgdbvm.machine.memory import (
    PAGE_SHIFT,
    PAGE_SIZE,
    SCATTER_POOL_BASE,
    Backing,
    Extent,
    FrameKind,
    P2mLayout,
    PhysicalMemory,
)
from xgdbvm.machine.mmio import ByteSink, IrqLine, MmioDevice
from xgdbvm.machine.timekeeping import COUNTER_HZ
from xgdbvm.machine.xen.domain import DomainConfig

MiB = 1 << 20
GiB = 1 << 30
GUEST_RAM0_MAX = 3 * GiB
GUEST_RAM1_BASE = 0x2_0000_0000
GUEST_MAGIC_BASE = 0x3900_0000
NR_MAGIC_PAGES = 4
MIN_MEMORY = 16 * MiB
MAX_MEMORY = 64 * GiB
DTB_MAX = 2 * MiB
UART_COMPATIBLES = ("arm,sbsa-uart", "arm,pl011")
GIC_COMPATIBLES = ("arm,cortex-a15-gic", "arm,gic-400")
TIMER_COMPATIBLES = ("arm,armv8-timer", "arm,armv7-timer")
GICC_IAR = 0x0C
CHUNK_2M = 2 * MiB


@dataclass(frozen=True)
class MachineConfig:
    image: Path
    dts: Path
    arch: str = "arm64"
    memory: int = 128 * MiB
    bootargs: str | None = None
    domain: DomainConfig = field(default_factory=DomainConfig)
    p2m: P2mLayout | None = None  # None: scatter for a domU, identity for dom0
    realtime: bool = False  # guest time follows the host clock (not deterministic)
    fast: bool = False  # no instruction clock: full Unicorn speed, host-clock time

    @property
    def p2m_layout(self) -> P2mLayout:
        if self.p2m is not None:
            return self.p2m
        return P2mLayout("identity" if self.domain.dom0 else "scatter")


@dataclass(frozen=True)
class Layout:
    """Where everything ended up; read by summaries, monitors and tests."""

    ram: tuple[MemoryBank, ...]
    magic_base: int
    dtb_address: int
    dtb_size: int
    image: GuestImage
    uart: DeviceNode
    hypervisor: HypervisorNode
    gic: DeviceNode


def ram_banks(ram0_base: int, memory: int) -> tuple[MemoryBank, ...]:
    if memory < MIN_MEMORY or memory > MAX_MEMORY:
        raise ConfigError(
            f"memory size {memory:#x} is out of range ({MIN_MEMORY // MiB} MiB to "
            f"{MAX_MEMORY // GiB} GiB)"
        )
    if memory % PAGE_SIZE:
        raise ConfigError(f"memory size {memory:#x} is not a multiple of 4 KiB")
    first = min(memory, GUEST_RAM0_MAX)
    banks = [MemoryBank(ram0_base, first)]
    if memory > first:
        banks.append(MemoryBank(GUEST_RAM1_BASE, memory - first))
    return tuple(banks)


def dtb_placement(bank0: MemoryBank, image: GuestImage, dtb_size: int) -> int:
    """Xen's toolstack: RAM0 + 128 MiB if the kernel ends below that and it fits,
    else the top of bank 0, else just below the kernel (2 MiB aligned, so the
    blob never straddles a 2 MiB block)."""
    size = -(-dtb_size // PAGE_SIZE) * PAGE_SIZE
    preferred = bank0.base + 128 * MiB
    if image.end <= preferred and preferred + DTB_MAX <= bank0.base + bank0.size:
        return preferred
    top = (bank0.base + bank0.size - DTB_MAX) & ~(DTB_MAX - 1)
    if top >= image.end:
        return top
    below = (image.start - size) & ~(PAGE_SIZE - 1)
    if below < bank0.base:
        raise ConfigError("no room for the device tree beside the image in RAM bank 0")
    return below


class Board:
    def __init__(
        self,
        config: MachineConfig,
        cpu: Cpu,
        memory: PhysicalMemory,
        uart_sink: ByteSink,
        cpu_irq: IrqLine,
        before_gic_access: Callable[[], None] = lambda: None,
        on_irq_ack: Callable[[int], None] = lambda intid: None,
    ) -> None:
        self.config = config
        self._cpu = cpu
        self._memory = memory
        tree = DeviceTree.from_path(config.dts)
        hypervisor = tree.hypervisor()
        declared = tree.memory_banks()
        if not declared:
            raise ConfigError(f"{config.dts}: no memory node")
        banks = ram_banks(declared[0].base, config.memory)
        uart = tree.find_compatible(*UART_COMPATIBLES)
        if uart is None or not uart.regs:
            raise ConfigError(f"{config.dts}: no UART (compatible {' or '.join(UART_COMPATIBLES)})")
        image = load_image(config.image, config.arch, banks[0].base)
        for segment in image.segments:
            if not any(
                b.base <= segment.address and segment.address + segment.memsize <= b.base + b.size
                for b in banks
            ):
                raise ConfigError(
                    f"{config.image}: segment at {segment.address:#x} (+{segment.memsize:#x}) "
                    "lies outside guest RAM"
                )

        tree.set_memory(list(banks))
        if config.bootargs is not None:
            tree.set_bootargs(config.bootargs)
        layout = config.p2m_layout
        if layout.kind == "offset":
            # Where a dom0 kernel's RAM really is, for DMA (the offset scheme for
            # platforms whose kernels need RAM at a fixed start).
            tree.set_hypervisor_property("dma-offset", layout.offset)
        self.dtb = tree.to_blob()
        self.bootargs = tree.bootargs()
        if len(self.dtb) > DTB_MAX:
            raise ConfigError(f"{config.dts}: device tree is larger than 2 MiB")
        dtb_address = dtb_placement(banks[0], image, len(self.dtb))

        self.initial_extents = self._populate(memory, banks, layout)

        gic_node = tree.find_compatible(*GIC_COMPATIBLES)
        if gic_node is None or len(gic_node.regs) < 2:
            raise ConfigError(f"{config.dts}: no GICv2 (compatible {GIC_COMPATIBLES[0]})")
        timer_node = tree.find_compatible(*TIMER_COMPATIBLES)
        if timer_node is None or len(timer_node.interrupts) < 3:
            raise ConfigError(f"{config.dts}: no generic timer node with its three PPIs")
        self.gic = Gicv2(num_cpus=1, num_spis=32, outputs=[cpu_irq])
        # DT order: secure physical, non-secure physical, virtual (EL1 sees the last two).
        _, phys_ppi, virt_ppi = timer_node.interrupts[:3]
        self.timer = GenericTimer(
            phys_irq=self.gic.line(phys_ppi), virt_irq=self.gic.line(virt_ppi), frequency=COUNTER_HZ
        )
        self.timer_ppis = (phys_ppi, virt_ppi)
        uart_irq = self.gic.line(uart.interrupts[0]) if uart.interrupts else None
        self.uart = Pl011(uart_sink, uart_irq)
        self.devices: dict[str, tuple[int, MmioDevice]] = {}
        self._map_device("uart", uart.regs[0][0], self.uart)
        self._map_device("gicd", gic_node.regs[0][0], self.gic.distributor, before_gic_access)
        self._map_device("gicc", gic_node.regs[1][0], self.gic.cpu_interface(0), before_gic_access)

        self.layout = Layout(
            banks, GUEST_MAGIC_BASE, dtb_address, len(self.dtb), image, uart, hypervisor, gic_node
        )

    @staticmethod
    def _populate(
        memory: PhysicalMemory, banks: tuple[MemoryBank, ...], layout: P2mLayout
    ) -> tuple[Extent, ...]:
        """Machine frames for RAM and magic pages and the p2m extents over them (not
        mapped yet: the hypervisor's domain memory maps them, and again on every reset)."""
        extents = []
        for index, bank in enumerate(banks):
            chunk_base = SCATTER_POOL_BASE + index * 0x10_0000_0000
            backing = memory.add_backing(
                Backing.allocate(
                    f"ram{index}",
                    bank.size,
                    layout.machine_addresses(bank.base, bank.size, chunk_base),
                )
            )
            extents.append(
                Extent(bank.base >> PAGE_SHIFT, bank.size >> PAGE_SHIFT, FrameKind.RAM, backing, 0)
            )
        magic_size = NR_MAGIC_PAGES * PAGE_SIZE
        magic = memory.add_backing(
            Backing.allocate(
                "magic",
                magic_size,
                layout.machine_addresses(
                    GUEST_MAGIC_BASE, magic_size, SCATTER_POOL_BASE - CHUNK_2M
                ),
            )
        )
        extents.append(
            Extent(GUEST_MAGIC_BASE >> PAGE_SHIFT, NR_MAGIC_PAGES, FrameKind.MAGIC, magic, 0)
        )
        return tuple(extents)

    def _map_device(
        self,
        name: str,
        base: int,
        device: MmioDevice,
        before: Callable[[], None] | None = None,
        after_read: Callable[[int, int], None] | None = None,
    ) -> None:
        def read(uc: unicorn.Uc, offset: int, size: int, data: object) -> int:
            if before is not None:
                before()
            value = device.read(offset, size)
            if after_read is not None:
                after_read(offset, value)
            return value

        def write(uc: unicorn.Uc, offset: int, size: int, value: int, data: object) -> None:
            if before is not None:
                before()
            device.write(offset, size, value)

        self._cpu.uc.mmio_map(base, device.mmio_size, read, None, write, None)
        self.devices[name] = (base, device)

    def load(self) -> BootState:
        """Put the image and DTB in RAM (the p2m is fresh); returns the vCPU's boot state."""
        for segment in self.layout.image.segments:
            self._memory.write(segment.address, segment.data)
        self._memory.write(self.layout.dtb_address, self.dtb)
        for _, device in self.devices.values():
            device.reset()
        self.timer.reset()
        entry = self.layout.image.entry
        return BootState(entry=entry, dtb=self.layout.dtb_address, thumb=bool(entry & 1))
