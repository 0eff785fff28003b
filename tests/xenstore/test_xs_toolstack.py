"""The nodes libxl writes for a domU, with libxl's permissions."""

from __future__ import annotations

import pytest

from xgdbvm.machine.xen.xenstore import DomainConfig, XenStore, XsClient, XsError, populate_domain

from .conftest import fails

D = "/local/domain/1"
RO = ["n0", "r1"]
RW = ["n1"]

EXPECTED = {
    D: (b"", RO),
    f"{D}/name": (b"guest1", RO),
    f"{D}/domid": (b"1", RO),
    f"{D}/vm": (b"/vm/00000000-0000-0000-0000-000000000001", RO),
    f"{D}/memory/static-max": (b"131072", RO),
    f"{D}/memory/target": (b"131072", RO),
    f"{D}/memory/videoram": (b"0", RO),
    f"{D}/store/port": (b"1", RO),
    f"{D}/store/ring-ref": (b"233473", RO),  # 0x39001
    f"{D}/console/port": (b"2", RO),
    f"{D}/console/ring-ref": (b"233472", RO),  # 0x39000
    f"{D}/console/type": (b"xenconsoled", RO),
    f"{D}/console/output": (b"pty", RO),
    f"{D}/console/tty": (b"", RO),
    f"{D}/console/limit": (b"1048576", RO),
    f"{D}/console/backend": (b"/local/domain/0/backend/console/1/0", RO),
    f"{D}/console/backend-id": (b"0", ["n1", "r0"]),
    f"{D}/cpu/0/availability": (b"online", RO),
    f"{D}/control/shutdown": (b"", RW),
    f"{D}/control/feature-poweroff": (b"", RW),
    f"{D}/control/feature-reboot": (b"", RW),
    f"{D}/control/feature-suspend": (b"", RW),
    f"{D}/control/sysrq": (b"", RW),
    f"{D}/control/platform-feature-multiprocessor-suspend": (b"1", RO),
    f"{D}/control/platform-feature-xs_reset_watches": (b"1", RO),
    f"{D}/device": (b"", RO),
    f"{D}/device/suspend/event-channel": (b"", RW),
    f"{D}/data": (b"", RW),
    f"{D}/drivers": (b"", RW),
    f"{D}/feature": (b"", RW),
    f"{D}/attr": (b"", RW),
    f"{D}/error": (b"", RW),
    "/vm/00000000-0000-0000-0000-000000000001/uuid": (
        b"00000000-0000-0000-0000-000000000001",
        RO,
    ),
    "/vm/00000000-0000-0000-0000-000000000001/name": (b"guest1", RO),
    "/local/domain/0/name": (b"Domain-0", ["n0"]),
    "/local/domain/0/domid": (b"0", ["n0"]),
    "/local/domain/0/backend/console/1/0/state": (b"1", RO),
    "/local/domain/0/backend/console/1/0/frontend": (b"/local/domain/1/console", RO),
    "/libxl/1/type": (b"pvh", ["n0"]),
}


@pytest.mark.parametrize(("path", "value", "perms"), [(p, v, q) for p, (v, q) in EXPECTED.items()])
def test_node_and_perms(dom0: XsClient, path: str, value: bytes, perms: list[str]) -> None:
    assert dom0.read(path) == value
    assert dom0.get_perms(path).texts() == perms


def test_guest_view(guest: XsClient) -> None:
    assert guest.read("store/port") == b"1"
    guest.write("control/feature-poweroff", "1")  # what a Linux guest does at boot
    guest.write("device/suspend/event-channel", "5")
    fails(XsError.EACCES, guest.write, "memory/target", "1")
    fails(XsError.EACCES, guest.write, "console/port", "9")
    fails(XsError.EACCES, guest.read, "/libxl/1/type")
    fails(XsError.EACCES, guest.read, "/local/domain/0/name")
    assert guest.read("/local/domain/0/backend/console/1/0/state") == b"1"


def test_parameters_and_vcpus() -> None:
    store = XenStore()
    cfg = DomainConfig(
        domid=7,
        name="vm7",
        uuid="12345678-1234-1234-1234-123456789abc",
        memory_kib=65536,
        max_memory_kib=98304,
        vcpus=3,
        store_port=5,
        store_gfn=0x1001,
        console_port=6,
        console_gfn=0x1000,
    )
    populate_domain(store, cfg)
    xs = XsClient(store, 7)
    assert xs.read("memory/target") == b"65536"
    assert xs.read("memory/static-max") == b"98304"
    assert xs.directory("cpu") == ["0", "1", "2"]
    assert xs.read("store/ring-ref") == b"4097"
    assert xs.read("console/port") == b"6"
    assert xs.get_perms("name").texts() == ["n0", "r7"]
    assert xs.read("/vm/12345678-1234-1234-1234-123456789abc/name") == b"vm7"


def test_populate_introduces_and_fires(store: XenStore) -> None:
    watcher = XsClient(store, 0)
    watcher.watch("@introduceDomain", "t")
    watcher.take_events()
    events = populate_domain(store, DomainConfig(domid=4))
    assert [e.message.payload for e in events] == [b"@introduceDomain\0t\0"]
    assert store.is_introduced(4)


def test_repopulating_replaces_the_subtree(store: XenStore, dom0: XsClient) -> None:
    dom0.write(f"{D}/data/leftover", "x")
    populate_domain(store, DomainConfig(domid=1, name="again"))
    fails(XsError.ENOENT, dom0.read, f"{D}/data/leftover")
    assert dom0.read(f"{D}/name") == b"again"
