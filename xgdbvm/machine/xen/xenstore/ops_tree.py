"""Handlers for the tree requests: READ, WRITE, MKDIR, RM, DIRECTORY(_PART), GET/SET_PERMS.

Contract: each handler takes a Request, returns the reply payload or raises
XenStoreError; semantics follow docs/misc/xenstore.txt and tools/xenstored/
core.c (do_read, do_write, do_mkdir, do_rm, send_directory,
send_directory_part, do_get_perms, do_set_perms). Watches fire for the
written path only (not for ancestors WRITE/MKDIR created implicitly), and
MKDIR of an existing node changes nothing and fires nothing.
"""

from __future__ import annotations

from typing import Final

from .access import Request
from .connection import Quotas
from .node import Node
from .paths import ROOT, parent
from .perms import Access, NodePerms
from .watch import WatchMatch
from .wire import XENSTORE_PAYLOAD_MAX, XenStoreError, XsError

OK: Final = b"OK\0"


def atoi(raw: bytes) -> int:
    """C atoi(): optional sign and leading digits, anything after ignored, else 0."""
    text = raw.decode("ascii", "replace").lstrip()
    sign = -1 if text.startswith("-") else 1
    if text[:1] in ("-", "+"):
        text = text[1:]
    digits = ""
    for ch in text:
        if not ch.isdigit():
            break
        digits += ch
    return sign * int(digits) if digits else 0


def do_read(req: Request) -> bytes:
    return req.require(req.path(req.one_arg()), Access.READ).value


def do_directory(req: Request) -> bytes:
    # A list beyond the payload limit becomes E2BIG in the dispatcher; clients
    # then switch to XS_DIRECTORY_PART.
    return req.require(req.path(req.one_arg()), Access.READ).children_payload()


def do_directory_part(req: Request) -> bytes:
    """``<gen>\\0`` then children from a byte offset; a final extra NUL marks the end."""
    if req.msg.payload.count(b"\0") != 2:
        raise XenStoreError(XsError.EINVAL, "expected path and offset")
    raw_path, raw_offset = req.msg.strings()
    node = req.require(req.path(raw_path), Access.READ)
    offset = atoi(raw_offset) & 0xFFFF_FFFF  # unsigned, as in xenstored
    gen = b"%d\0" % node.generation
    children = node.children_payload()
    if offset >= len(children):
        return gen + b"\0"
    max_len = XENSTORE_PAYLOAD_MAX - len(gen) - 1
    length = 0
    pos = offset
    while True:
        name_len = children.index(b"\0", pos) - pos
        if length + name_len >= max_len:
            break
        length += name_len + 1
        pos += name_len + 1
        if offset + length == len(children):
            break
    chunk = gen + children[offset : offset + length]
    if offset + length == len(children):
        chunk += b"\0"
    return chunk


def do_get_perms(req: Request) -> bytes:
    node = req.require(req.path(req.one_arg(), allow_special=True), Access.READ)
    return node.perms.encode()


def do_write(req: Request) -> bytes:
    payload = req.msg.payload
    nul = payload.find(b"\0")
    if nul < 0:
        raise XenStoreError(XsError.EINVAL, "WRITE needs a path")
    name = req.path(payload[:nul])
    value = payload[nul + 1 :]
    node = req.lookup(name, Access.WRITE)
    if node is None:
        stored = req.create(name, value)
    else:
        stored = req.replace(name, Node(value, node.children, node.perms))
    req.view.fire(name, stored, WatchMatch.SUBTREE, None)
    return OK


def do_mkdir(req: Request) -> bytes:
    name = req.path(req.one_arg())
    if req.lookup(name, Access.WRITE) is None:
        stored = req.create(name, b"")
        req.view.fire(name, stored, WatchMatch.SUBTREE, None)
    return OK


def do_rm(req: Request) -> bytes:
    name = req.path(req.one_arg())
    if req.lookup(name, Access.WRITE) is None:
        # Removing something absent is fine as long as its parent exists.
        if req.view.get(parent(name)) is None:
            raise XenStoreError(XsError.ENOENT, name)
        return OK
    if name == ROOT:
        raise XenStoreError(XsError.EINVAL, "cannot remove the root")
    req.remove(name)
    return OK


def do_set_perms(req: Request) -> bytes:
    strings = req.msg.strings()
    if len(strings) < 2:
        raise XenStoreError(XsError.EINVAL, "SET_PERMS needs a path and permissions")
    conn = req.conn
    if not conn.privileged and Quotas.reached(req.quotas.permissions, len(strings) - 1):
        raise XenStoreError(XsError.ENOSPC, "too many permission entries")
    perms = NodePerms.parse(strings[1:])
    name = req.path(strings[0], allow_special=True)
    node = req.require(name, Access.WRITE | Access.OWNER)
    if not conn.privileged and perms.owner != node.owner:
        raise XenStoreError(XsError.EPERM, "only dom0 may change the owner")
    stored = req.replace(name, Node(node.value, node.children, perms))
    # Old permissions too: a watcher that just lost access still hears of it.
    req.view.fire(name, stored, WatchMatch.SUBTREE, node.perms)
    return OK
