"""Async GDB remote client (Trio).

``RspClient`` connects with ``await RspClient.connect_tcp(host, port)``,
``await RspClient.connect_unix(path)`` or ``RspClient(stream)`` and offers
``request(payload) -> bytes``, ``exchange(payload) -> Response`` (reply plus
console text), ``send(payload)`` (no reply awaited), ``start_no_ack()``,
``interrupt()``, ``wait_stop()``, ``take_console()`` and ``aclose()``.
Framing comes from :mod:`xgdbvm.rsp.framing`; there is no second parser.

Example::

    async with await RspClient.connect_tcp("127.0.0.1", 1234) as gdb:
        await gdb.start_no_ack()
        await gdb.request(b"qSupported:swbreak+;hwbreak+")
        await gdb.send(b"vCont;c")
        await gdb.interrupt()
        stop = await gdb.wait_stop(timeout=5)
"""

from .rsp_client import (
    DEFAULT_TIMEOUT,
    ConnectionClosed,
    Response,
    RspClient,
    RspClientError,
    console_text,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "ConnectionClosed",
    "Response",
    "RspClient",
    "RspClientError",
    "console_text",
]
