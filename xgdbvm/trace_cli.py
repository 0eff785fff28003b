"""``xgdbvm trace ADDR|FILE``: read a trace live from a server or from a recorded file.

    xgdbvm trace 127.0.0.1:4000                  the live stream, as an aligned log
    xgdbvm trace boot.jsonl --filter 'kind=hypercall name=memory_op'
    xgdbvm trace boot.jsonl --follow             keep reading as the file grows (Ctrl-C ends)
    xgdbvm trace boot.jsonl --summary            counts, virtual time, failed calls
    xgdbvm trace boot.jsonl --perfetto out.json  a timeline for ui.perfetto.dev

ADDR is ``HOST:PORT`` (host 127.0.0.1 if left out) or ``unix:PATH``; anything
that names an existing file is read as a file. The filter goes to the server as
the subscription's first line (so it filters at the source); on a file it is
applied here. The log goes to stdout (colour on a terminal, plain when piped or
with --no-color); --summary and --perfetto replace it. The hello line goes to
stderr. Mistakes (a bad address or filter, a missing or malformed file, a server
that is not there) are one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from xgdbvm.server.endpoints import (
    EndpointError,
    StdioEndpoint,
    TcpEndpoint,
    UnixEndpoint,
    parse_endpoint,
)
from xgdbvm.trace.filters import FilterError, Selector, TraceFilter
from xgdbvm.trace.formatter import TraceFormatter, describe_hello
from xgdbvm.trace.perfetto import PerfettoExporter
from xgdbvm.trace.schema import (
    ErrorRecord,
    Hello,
    Record,
    TraceEvent,
    TraceFormatError,
    read_records,
)
from xgdbvm.trace.summary import TraceSummary

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
FOLLOW_POLL = 0.1
CONNECT_TIMEOUT = 5.0


class TraceCliError(Exception):
    """A mistake the user can fix: one line, exit status 2."""


def add_trace_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    trace = subparsers.add_parser(
        "trace", help="print a trace, live from a server's --trace ADDR or from a --trace-file"
    )
    trace.add_argument("source", metavar="ADDR|FILE", help="HOST:PORT, unix:PATH or a file")
    trace.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="TERMS",
        help="e.g. 'kind=hypercall,console name=memory_op,xen_version.get_features "
        "pc=0x40080000-0x40090000' (repeatable)",
    )
    trace.add_argument("--follow", "-f", action="store_true", help="keep reading FILE as it grows")
    trace.add_argument("--perfetto", type=Path, metavar="OUT.json", help="write a timeline")
    trace.add_argument(
        "--summary", action="store_true", help="counts and time per hypercall; failed calls"
    )
    trace.add_argument("--no-color", action="store_true", help="never colour the log")


def command_trace(args: argparse.Namespace) -> int:
    try:
        return _trace(args)
    except TraceCliError as error:
        print(f"xgdbvm trace: {error}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader of our stdout went away (``| head``): not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


def _trace(args: argparse.Namespace) -> int:
    try:
        spec = TraceFilter.parse(" ".join(args.filter))
    except FilterError as error:
        raise TraceCliError(f"--filter: {error}") from None
    source = resolve_source(args.source)
    live = not isinstance(source, Path)
    if isinstance(source, Path):
        lines = file_lines(source, follow=args.follow)
    else:
        lines = socket_lines(source, spec)
    outputs = Outputs(
        log=None if (args.summary or args.perfetto) else sys.stdout,
        color=_want_color(args.no_color),
        summary=args.summary,
        perfetto=args.perfetto,
    )
    # A server filters at the source; a file is filtered here.
    selector: Selector[Record] | None = None if live or spec.empty else Selector(spec)
    interrupted = False
    try:
        for record in read_records(lines, args.source):
            if isinstance(record, ErrorRecord):
                raise TraceCliError(f"{args.source}: {record.message}")
            if isinstance(record, Hello):
                print(describe_hello(record), file=sys.stderr)
            if selector is not None and isinstance(record, TraceEvent):
                for passed in selector.feed(record, record):
                    outputs.feed(passed)
            else:
                outputs.feed(record)
            if live or args.follow:
                outputs.flush()
    except KeyboardInterrupt:
        interrupted = True
    except TraceFormatError as error:
        raise TraceCliError(str(error)) from None
    if selector is not None:
        for passed in selector.flush():
            outputs.feed(passed)
    outputs.finish()
    if interrupted and not (live or args.follow):
        return EXIT_INTERRUPTED
    return EXIT_OK


def _want_color(no_color: bool) -> bool:
    return not no_color and not os.environ.get("NO_COLOR") and sys.stdout.isatty()


def resolve_source(text: str) -> Path | TcpEndpoint | UnixEndpoint:
    if not text.startswith("unix:"):
        path = Path(text)
        if path.is_dir():
            raise TraceCliError(f"{text}: is a directory, not a trace file")
        if path.exists():
            return path
    try:
        endpoint = parse_endpoint(text, stdio_allowed=False)
    except EndpointError as error:
        why = f": {error}" if ":" in text else ""
        raise TraceCliError(
            f"{text}: no such file, and not an address (HOST:PORT or unix:PATH){why}"
        ) from None
    assert not isinstance(endpoint, StdioEndpoint)
    return endpoint


def file_lines(path: Path, *, follow: bool) -> Iterator[str]:
    """The file's lines; with ``follow``, wait for more at the end (complete lines only)."""
    try:
        file = path.open(encoding="utf-8", errors="replace")
    except OSError as error:
        raise TraceCliError(f"{path}: {error.strerror or error}") from None
    with file:
        pending = ""
        while True:
            line = file.readline()
            if line.endswith("\n"):
                yield pending + line
                pending = ""
            elif line:
                pending += line
            elif not follow:
                if pending:
                    yield pending
                return
            else:
                time.sleep(FOLLOW_POLL)


def socket_lines(endpoint: TcpEndpoint | UnixEndpoint, spec: TraceFilter) -> Iterator[str]:
    """Subscribe (the filter as the first line) and yield what the server sends until it
    closes the connection."""
    try:
        if isinstance(endpoint, UnixEndpoint):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(CONNECT_TIMEOUT)
            sock.connect(str(endpoint.path))
        else:
            sock = socket.create_connection((endpoint.host, endpoint.port), CONNECT_TIMEOUT)
        sock.settimeout(None)
        sock.sendall((json.dumps(spec.to_json()) + "\n").encode())
    except OSError as error:
        raise TraceCliError(f"cannot subscribe to {endpoint}: {error.strerror or error}") from None
    with sock, sock.makefile("r", encoding="utf-8", errors="replace", newline="\n") as stream:
        try:
            yield from stream
        except ConnectionError:
            return


class Outputs:
    """Where records go: the log, the summary, the Perfetto exporter."""

    def __init__(
        self, *, log: TextIO | None, color: bool, summary: bool, perfetto: Path | None
    ) -> None:
        self._log = log
        self._formatter = TraceFormatter(color=color) if log is not None else None
        self._summary = TraceSummary() if summary else None
        self._perfetto_path = perfetto
        self._perfetto = PerfettoExporter() if perfetto is not None else None

    def feed(self, record: Record) -> None:
        if self._formatter is not None and self._log is not None and not isinstance(record, Hello):
            for line in self._formatter.feed(record):
                self._log.write(line + "\n")
        if self._summary is not None:
            self._summary.feed(record)
        if self._perfetto is not None:
            self._perfetto.feed(record)

    def flush(self) -> None:
        if self._log is not None:
            self._log.flush()

    def finish(self) -> None:
        if self._formatter is not None and self._log is not None:
            for line in self._formatter.finish():
                self._log.write(line + "\n")
            self._log.flush()
        if self._summary is not None:
            sys.stdout.write(self._summary.render())
            sys.stdout.flush()
        if self._perfetto is not None and self._perfetto_path is not None:
            try:
                with self._perfetto_path.open("w", encoding="utf-8") as out:
                    json.dump(self._perfetto.finish(), out, separators=(",", ":"))
            except OSError as error:
                raise TraceCliError(
                    f"--perfetto {self._perfetto_path}: {error.strerror or error}"
                ) from None
            print(f"xgdbvm trace: wrote {self._perfetto_path}", file=sys.stderr)
