"""``monitor xs``: the guest's xenstore from GDB, as dom0."""

from __future__ import annotations

from xgdbvm.adapters.monitor import MonitorContext, MonitorError, command
from xgdbvm.machine.xen.xenstore import XenStoreError, XsType


def _request(context: MonitorContext, kind: XsType, *parts: str, value: bytes = b"") -> bytes:
    xenstored = context.machine.hypervisor.xenstored
    conn = context.target.xenstore_connection()
    try:
        return xenstored.request(conn, kind, *parts, value=value)
    except XenStoreError as error:
        raise MonitorError(f"{parts[0] if parts else ''}: {error}") from None


def _path(args: list[str], usage: str) -> str:
    if len(args) != 1:
        raise MonitorError(f"usage: monitor xs {usage}")
    return args[0]


def _listing(context: MonitorContext, path: str, depth: int, lines: list[str]) -> None:
    children = [c for c in _request(context, XsType.DIRECTORY, path).split(b"\0") if c]
    for child in children:
        name = child.decode(errors="replace")
        full = f"{path.rstrip('/')}/{name}"
        value = _request(context, XsType.READ, full).decode(errors="replace")
        lines.append(f"{' ' * depth}{name} = {value!r}")
        if len(lines) < 2000:
            _listing(context, full, depth + 1, lines)


@command("xs", "ls", usage="PATH", summary="list a xenstore subtree with its values")
def _ls(context: MonitorContext, args: list[str]) -> str:
    path = _path(args, "ls PATH")
    lines: list[str] = []
    _listing(context, path, 0, lines)
    return "\n".join(lines) + "\n" if lines else "(no children)\n"


@command("xs", "read", usage="PATH", summary="read a xenstore node")
def _read(context: MonitorContext, args: list[str]) -> str:
    return _request(context, XsType.READ, _path(args, "read PATH")).decode(errors="replace") + "\n"


@command("xs", "write", usage="PATH VALUE", summary="write a xenstore node (fires watches)")
def _write(context: MonitorContext, args: list[str]) -> str:
    if len(args) != 2:
        raise MonitorError("usage: monitor xs write PATH VALUE")
    _request(context, XsType.WRITE, args[0], value=args[1].encode())
    return f"{args[0]} = {args[1]!r}\n"


@command("xs", "rm", usage="PATH", summary="remove a xenstore node and its children")
def _rm(context: MonitorContext, args: list[str]) -> str:
    path = _path(args, "rm PATH")
    _request(context, XsType.RM, path)
    return f"removed {path}\n"


@command("xs", "watch", usage="[PATH]", summary="watch PATH; without PATH, show fired watches")
def _watch(context: MonitorContext, args: list[str]) -> str:
    xenstored = context.machine.hypervisor.xenstored
    conn = context.target.xenstore_connection()
    if args:
        path = _path(args, "watch [PATH]")
        _request(context, XsType.WATCH, path, "gdb")
        return f"watching {path}\n"
    fired = [
        m.strings()[0].decode(errors="replace")
        for m in xenstored.pop_output(conn)
        if m.msg_type == XsType.WATCH_EVENT
    ]
    return "".join(f"fired: {path}\n" for path in fired) or "no watch fired since last time\n"
