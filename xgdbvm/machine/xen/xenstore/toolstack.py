"""The nodes the real toolstack writes before a domU boots.

Contract: ``populate_dom0`` writes what xen-init-dom0 does
(``/local/domain/0/{name,domid}``); ``populate_domain`` replays, as dom0,
the xenstore writes of libxl for an ARM (PVH-type) guest with one primary
console, in libxl's order and with libxl's permissions, then introduces the
domain (firing ``@introduceDomain``). With D = ``/local/domain/<domid>``:

- ``roperm`` = ``n0 r<domid>`` (dom0 owns, guest reads): D, ``/vm/<uuid>``,
  ``cpu``, ``memory``, ``device``, ``control``; nodes dom0 later writes below
  them inherit it (``name``, ``domid``, ``vm``, ``memory/*``, ``store/*``,
  ``cpu/<n>/availability``, ``control/platform-feature-*``);
- ``rwperm`` = ``n<domid>`` (guest owns): ``control/{shutdown,
  feature-poweroff, feature-reboot, feature-suspend, sysrq}``, ``data``,
  ``drivers``, ``feature``, ``attr``, ``error``,
  ``device/suspend/event-channel``;
- ``/libxl/<domid>`` is ``n0`` (dom0 only);
- console 0: D/console is ``n<backend> r<domid>`` with ``limit``, ``type``,
  ``output``, ``tty``, ``port``, ``ring-ref`` alike, but ``backend-id`` is
  guest-owned ``n<domid> r<backend>``; the backend directory
  ``/local/domain/<backend>/backend/console/<domid>/0`` is
  ``n<backend> r<domid>``.

Sources: tools/libs/light/libxl_create.c (libxl__domain_make,
libxl__domain_build), libxl_dom.c (libxl__build_pre/post), libxl_console.c
(libxl__device_console_add), libxl_device.c (libxl__device_generic_add),
libxl_internal.h (LIBXL_XENCONSOLE_LIMIT 1048576, protocol "vt100"),
tools/helpers/xen-init-dom0.c. Defaults: magic pages at GUEST_MAGIC_BASE
(console gfn 0x39000, store gfn 0x39001); event channels 1 (store) and 2
(console), what a fresh domain gets since libxl allocates store first.
``start_time`` is fixed, not the host clock, to keep runs deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

from .client import XsClient
from .paths import domain_path
from .perms import Access, NodePerms, Perm
from .store import QueuedEvent, XenStore
from .wire import XenStoreError, XsError

LIBXL_XENCONSOLE_LIMIT = 1048576
LIBXL_XENCONSOLE_PROTOCOL = "vt100"
XENBUS_STATE_INITIALISING = 1


@dataclass(frozen=True, slots=True)
class DomainConfig:
    domid: int = 1
    name: str = "guest"
    uuid: str = "00000000-0000-0000-0000-000000000001"
    memory_kib: int = 131072  # memory/target
    max_memory_kib: int | None = None  # memory/static-max; None: same as memory_kib
    video_kib: int = 0  # PVH/ARM guests have no video RAM
    vcpus: int = 1
    store_port: int = 1
    store_gfn: int = 0x39001
    console_port: int = 2
    console_gfn: int = 0x39000
    console_backend: int = 0
    domain_type: str = "pvh"  # libxl's type for ARM guests
    start_time: str = "0.00"


def _perms(*entries: tuple[int, Access]) -> NodePerms:
    return NodePerms(tuple(Perm(d, a) for d, a in entries))


def populate_dom0(store: XenStore) -> None:
    xs = XsClient(store, 0)
    try:
        xs.write("/local/domain/0/domid", "0")
        xs.write("/local/domain/0/name", "Domain-0")
    finally:
        xs.close()


def populate_domain(store: XenStore, cfg: DomainConfig) -> tuple[QueuedEvent, ...]:
    """Write a domU's toolstack nodes and introduce it; returns the events that caused."""
    xs = XsClient(store, 0)
    try:
        _domain_make(xs, cfg)
        _build_post(xs, cfg)
        events = store.introduce_domain(cfg.domid, cfg.store_port)
        _console_add(xs, cfg)
    finally:
        xs.close()
    return events


def _rm(xs: XsClient, path: str) -> None:
    # libxl ignores a removal that fails because the node (or its parent) is absent.
    try:
        xs.rm(path)
    except XenStoreError as err:
        if err.code is not XsError.ENOENT:
            raise


def _mknod(xs: XsClient, path: str, perms: NodePerms) -> None:
    # libxl__xs_mknod(): mkdir then set the permissions.
    xs.mkdir(path)
    xs.set_perms(path, perms)


def _writev(xs: XsClient, base: str, entries: dict[str, str], perms: NodePerms | None) -> None:
    for key, value in entries.items():
        xs.write(f"{base}/{key}", value)
        if perms is not None:
            xs.set_perms(f"{base}/{key}", perms)


def _domain_make(xs: XsClient, cfg: DomainConfig) -> None:
    dom = domain_path(cfg.domid)
    vm = f"/vm/{cfg.uuid}"
    libxl = f"/libxl/{cfg.domid}"
    roperm = _perms((0, Access.NONE), (cfg.domid, Access.READ))
    rwperm = _perms((cfg.domid, Access.NONE))
    noperm = _perms((0, Access.NONE))

    for path, perms in ((dom, roperm), (vm, roperm), (libxl, noperm)):
        _rm(xs, path)
        _mknod(xs, path, perms)
    _mknod(xs, f"{libxl}/device", noperm)
    xs.write(f"{dom}/vm", vm)
    xs.write(f"{dom}/name", cfg.name)
    for sub in ("cpu", "memory", "device"):
        _mknod(xs, f"{dom}/{sub}", roperm)
    _mknod(xs, f"{dom}/device/suspend/event-channel", rwperm)
    _mknod(xs, f"{dom}/control", roperm)
    for sub in ("shutdown", "feature-poweroff", "feature-reboot", "feature-suspend", "sysrq"):
        _mknod(xs, f"{dom}/control/{sub}", rwperm)
    for sub in ("data", "drivers", "feature", "attr", "error"):
        _mknod(xs, f"{dom}/{sub}", rwperm)
    xs.write(f"{vm}/uuid", cfg.uuid)
    xs.write(f"{vm}/name", cfg.name)
    xs.write(f"{dom}/control/platform-feature-multiprocessor-suspend", "1")
    xs.write(f"{dom}/control/platform-feature-xs_reset_watches", "1")
    xs.write(f"{libxl}/type", cfg.domain_type)


def _build_post(xs: XsClient, cfg: DomainConfig) -> None:
    dom = domain_path(cfg.domid)
    static_max = cfg.memory_kib if cfg.max_memory_kib is None else cfg.max_memory_kib
    entries = {
        "memory/static-max": str(static_max),
        # libxl subtracts a "fudge" of video RAM (+ a constant for HVM only).
        "memory/target": str(cfg.memory_kib - cfg.video_kib),
        "memory/videoram": str(cfg.video_kib),
        "domid": str(cfg.domid),
        "store/port": str(cfg.store_port),
        "store/ring-ref": str(cfg.store_gfn),
    }
    entries.update({f"cpu/{n}/availability": "online" for n in range(cfg.vcpus)})
    _writev(xs, dom, entries, None)
    xs.write(f"/vm/{cfg.uuid}/start_time", cfg.start_time)


def _console_add(xs: XsClient, cfg: DomainConfig) -> None:
    dom, be = cfg.domid, cfg.console_backend
    frontend = f"{domain_path(dom)}/console"
    backend = f"{domain_path(be)}/backend/console/{dom}/0"
    libxl = f"/libxl/{dom}/device/console/0"
    frontend_perms = _perms((dom, Access.NONE), (be, Access.READ))
    ro_frontend_perms = _perms((be, Access.NONE), (dom, Access.READ))
    backend_perms = ro_frontend_perms
    back = {
        "frontend-id": str(dom),
        "online": "1",
        "state": str(XENBUS_STATE_INITIALISING),
        "protocol": LIBXL_XENCONSOLE_PROTOCOL,
    }
    ro_front = {
        "limit": str(LIBXL_XENCONSOLE_LIMIT),
        "type": "xenconsoled",
        "output": "pty",
        "tty": "",
        "port": str(cfg.console_port),
        "ring-ref": str(cfg.console_gfn),
    }

    _rm(xs, libxl)
    xs.write(f"{libxl}/frontend", frontend)
    xs.write(f"{libxl}/backend", backend)
    _rm(xs, frontend)
    xs.mkdir(frontend)
    xs.set_perms(frontend, ro_frontend_perms)
    xs.write(f"{frontend}/backend", backend)
    _writev(xs, frontend, {"backend-id": str(be)}, frontend_perms)
    _writev(xs, frontend, ro_front, ro_frontend_perms)
    _rm(xs, backend)
    xs.mkdir(backend)
    xs.set_perms(backend, backend_perms)
    xs.write(f"{backend}/frontend", frontend)
    _writev(xs, backend, back, None)
    _writev(xs, libxl, back, None)
