"""Run a gdb-multiarch batch script against a VM and return what GDB printed.

    out = await xgdbvm.gdbscript.run(vm, '''
        break guest_main
        continue
        p/x $pc
    ''')

GDB loads the VM's image (for symbols) and is already attached (``target
remote``) when the script starts; pagination and confirmations are off. The
server serves one GDB client at a time, so close any ``vm.gdb()`` client
first. When the script ends GDB detaches and the guest stays where it
stopped: the VM is still usable afterwards.
"""

from __future__ import annotations

import subprocess
import tempfile
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    from xgdbvm.api.vm import VM

GDB = "gdb-multiarch"
DEFAULT_TIMEOUT = 60.0
PREAMBLE = "set pagination off\nset confirm off\nset width 0\n"


class GdbScriptError(Exception):
    """GDB could not run (not installed, timed out) or the VM cannot take a client."""


async def run(
    vm: VM,
    script: str | Path,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    gdb: str = GDB,
    image: Path | str | None = None,
    extra_args: tuple[str, ...] = (),
) -> str:
    """Run ``script`` (commands as text, or a path to a command file) in GDB's batch
    mode against ``vm``; stdout and stderr together, as GDB printed them."""
    if vm.gdb_address is None:
        raise GdbScriptError("this VM has no GDB address")
    if vm.gdb_clients:
        raise GdbScriptError(
            "the VM serves one GDB client at a time: close the vm.gdb() client first"
        )
    program = Path(image) if image is not None else vm.image
    commands = Path(script).read_text() if isinstance(script, Path) else script
    with tempfile.TemporaryDirectory(prefix="xgdbvm-gdbscript-") as tmp:
        path = Path(tmp) / "script.gdb"
        path.write_text(
            f"{PREAMBLE}target remote {vm.gdb_address}\n{textwrap.dedent(commands).strip()}\n"
        )
        argv = [gdb, "-nx", "-batch", *extra_args, "-x", str(path)]
        if program is not None:
            argv.append(str(program))
        try:
            with trio.fail_after(timeout):
                result = await trio.run_process(
                    argv, capture_stdout=True, stderr=subprocess.STDOUT, check=False
                )
        except FileNotFoundError:
            raise GdbScriptError(f"{gdb} is not installed") from None
        except trio.TooSlowError:
            raise GdbScriptError(f"{gdb} did not finish within {timeout:g} s") from None
    return result.stdout.decode("utf-8", "replace")
