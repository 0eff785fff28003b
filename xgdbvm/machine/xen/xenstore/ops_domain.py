"""Handlers for domain management and CONTROL.

Contract (docs/misc/xenstore.txt "Domain management", tools/xenstored/
domain.c and control.c): INTRODUCE, RELEASE, RESUME, SET_TARGET,
IS_DOMAIN_INTRODUCED and CONTROL are dom0-only (EACCES otherwise, checked by
the dispatcher); GET_DOMAIN_PATH is open to all. Domids are decimal
0..65535; like strtoul(), an empty string reads as 0.

Here the machine, not xenstored, owns the guest rings: INTRODUCE records the
domain and fires ``@introduceDomain`` but maps nothing; the ring transport
is created by the machine. RELEASE closes that domain's connections (their
watches vanish first, so removing them fires nothing) and fires
``@releaseDomain``. CONTROL understands ``check``, ``help``, ``print`` and
``quota`` (no arguments); any other command is EINVAL, as xenstored answers
commands it does not know.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from .access import Request
from .connection import Quotas
from .ops_tree import OK, atoi
from .paths import domain_path
from .perms import DOMID_MAX, DOMID_SELF
from .wire import XenStoreError, XsError, join_strings


def parse_domid(raw: bytes) -> int:
    if raw and not raw.isdigit():
        raise XenStoreError(XsError.EINVAL, f"bad domid {raw!r}")
    domid = int(raw) if raw else 0
    if domid > DOMID_MAX:
        raise XenStoreError(XsError.EINVAL, f"domid {domid} out of range")
    return domid


def _known_guest(req: Request, raw: bytes) -> int:
    """xenstored's onearg_domain(): a non-dom0 domain that has been introduced."""
    domid = parse_domid(raw)
    if domid == 0:
        raise XenStoreError(XsError.EINVAL, "not for dom0")
    if not req.store.is_introduced(domid):
        raise XenStoreError(XsError.ENOENT, f"domain {domid} unknown")
    return domid


def do_get_domain_path(req: Request) -> bytes:
    return join_strings(domain_path(parse_domid(req.one_arg())))


def do_is_domain_introduced(req: Request) -> bytes:
    domid = parse_domid(req.one_arg())
    known = domid == DOMID_SELF or req.store.is_introduced(domid)
    return b"T\0" if known else b"F\0"


def do_introduce(req: Request) -> bytes:
    strings = req.msg.strings()
    if len(strings) < 3:
        raise XenStoreError(XsError.EINVAL, "INTRODUCE needs domid, gfn, port")
    domid = parse_domid(strings[0])
    port = atoi(strings[2])  # the gfn is ignored, as by xenstored
    if port <= 0:
        raise XenStoreError(XsError.EINVAL, "bad event channel")
    req.store.record_introduction(domid, port)
    return OK


def do_release(req: Request) -> bytes:
    req.store.record_release(_known_guest(req, req.one_arg()))
    return OK


def do_resume(req: Request) -> bytes:
    _known_guest(req, req.one_arg())
    return OK


def do_set_target(req: Request) -> bytes:
    strings = req.msg.strings()
    if len(strings) < 2:
        raise XenStoreError(XsError.EINVAL, "SET_TARGET needs two domids")
    domid, target = parse_domid(strings[0]), parse_domid(strings[1])
    for d in (domid, target):
        if not req.store.is_introduced(d):
            raise XenStoreError(XsError.ENOENT, f"domain {d} unknown")
    req.store.set_target(domid, target)
    return OK


# --- CONTROL ----------------------------------------------------------------

ControlCommand = Callable[[Request, Sequence[bytes]], bytes]


def _control_check(req: Request, args: Sequence[bytes]) -> bytes:
    if args:
        raise XenStoreError(XsError.EINVAL)
    return OK


def _control_print(req: Request, args: Sequence[bytes]) -> bytes:
    if len(args) != 1:
        raise XenStoreError(XsError.EINVAL)
    return OK


def _control_quota(req: Request, args: Sequence[bytes]) -> bytes:
    if args:
        raise XenStoreError(XsError.EINVAL, "only the quota listing is supported")
    quotas = req.store.limits.unprivileged
    lines = ["Quota settings:"]
    for name, descr, value in _quota_rows(quotas):
        lines.append(f"{name:<17}: {value:8d} {descr}")
    return join_strings("\n".join(lines) + "\n")


def _quota_rows(q: Quotas) -> list[tuple[str, str, int]]:
    return [
        ("nodes", "Nodes per domain", q.nodes),
        ("watches", "Watches per domain", q.watches),
        ("outstanding", "Outstanding requests per domain", q.outstanding),
        ("transactions", "Active transactions per domain", q.transactions),
        ("transaction-nodes", "Max. number of accessed nodes per transaction", q.transaction_nodes),
        ("node-permissions", "Max. number of permissions per node", q.permissions),
        ("path-max", "Max. length of a node path", q.path_max),
        ("node-size", "Max. size of a node", q.node_size),
    ]


def _control_help(req: Request, args: Sequence[bytes]) -> bytes:
    if args:
        raise XenStoreError(XsError.EINVAL)
    text = "".join(f"{name:<15} {usage}\n" for name, (_, usage) in CONTROL_COMMANDS.items())
    return join_strings(text)


CONTROL_COMMANDS: Final[dict[str, tuple[ControlCommand, str]]] = {
    "check": (_control_check, ""),
    "print": (_control_print, "<string>"),
    "quota": (_control_quota, ""),
    "help": (_control_help, ""),
}


def do_control(req: Request) -> bytes:
    strings = req.msg.strings()
    if not strings:
        raise XenStoreError(XsError.EINVAL, "CONTROL needs a command")
    entry = CONTROL_COMMANDS.get(strings[0].decode("ascii", "replace"))
    if entry is None:
        raise XenStoreError(XsError.EINVAL, "unknown control command")
    return entry[0](req, strings[1:])
