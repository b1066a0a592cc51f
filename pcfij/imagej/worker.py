"""The persistent Python worker of the ImageJ command host (``python -m pcfij.imagej.worker``).

One worker runs per ImageJ session; the Java host (``pcfij.Host``) starts it on first use
and talks to it over stdin/stdout, one JSON object per line (see
:mod:`pcfij.imagej.hostproto`). Requests are handled one at a time in the main thread; a
reader thread takes ``cancel`` requests while a command runs: the next progress or status
report of the running command then raises :class:`Cancelled`, the worker answers
``{"event": "cancelled"}`` and waits for the next request.

Anything else written to stdout (engine prints) is sent to stderr so that it cannot break
the protocol. The worker ends when its stdin closes (ImageJ quit).
"""

from __future__ import annotations

import json
import os
import queue
import sys
import threading
import time
import traceback
import warnings
from typing import Any, TextIO

from pcfij.errors import InputError, InputTypeError


class Cancelled(Exception):
    """The host asked to cancel the running command (Esc in ImageJ)."""


def one_line(exc: BaseException) -> str:
    """An exception as one line for ImageJ's error dialog or stderr."""
    if isinstance(exc, (InputError, InputTypeError)):
        text = str(exc)
    elif isinstance(exc, MemoryError):
        text = "not enough memory; use a smaller image or a selection"
    else:
        first = (str(exc).strip().splitlines() or [""])[0]
        text = first if isinstance(exc, (ValueError, TypeError, OSError)) and first else \
            f"{type(exc).__name__}: {first}"
    return " ".join(text.split())


class Worker:
    """Request loop; ``out`` is the protocol stream (the real stdout)."""

    def __init__(self, out: TextIO, inp: TextIO, folder: str) -> None:
        self.out = out
        self.inp = inp
        self.folder = folder
        self.requests: queue.Queue = queue.Queue()
        self.cancelled: set[int] = set()
        self.current: int | None = None
        self._last_progress = 0.0

    # ------------------------------------------------------------------ I/O
    def send(self, **msg: Any) -> None:
        self.out.write(json.dumps(msg) + "\n")
        self.out.flush()

    def _read(self) -> None:
        for line in self.inp:
            line = line.strip()
            if not line:
                continue
            try:
                req = json.loads(line)
            except ValueError:
                print(f"pcfij worker: ignoring a line that is not JSON: {line[:80]}",
                      file=sys.stderr)
                continue
            if req.get("op") == "cancel":
                self.cancelled.add(int(req.get("id", -1)))
            else:
                self.requests.put(req)
        self.requests.put(None)

    def serve(self) -> None:
        threading.Thread(target=self._read, name="pcfij-worker-stdin", daemon=True).start()
        self.send(event="ready", pid=os.getpid())
        while True:
            req = self.requests.get()
            if req is None:
                return
            try:
                self.handle(req)
            except Cancelled:
                self.send(event="cancelled", id=req.get("id"))
            except Exception as exc:  # one line to ImageJ, details to the terminal
                if not isinstance(exc, (InputError, InputTypeError)):
                    traceback.print_exc(file=sys.stderr)
                self.send(event="error", id=req.get("id"), message=one_line(exc))
            finally:
                self.current = None

    # ------------------------------------------------------------------ requests
    def handle(self, req: dict) -> None:
        from pcfij.imagej import hostproto

        op = req.get("op")
        if op == "ping":
            self.send(event="pong")
            return
        if op == "prepare":
            cmd = hostproto.find_command(str(req.get("command")))
            options = hostproto.canonical_options(cmd, req.get("options"),
                                                  [str(t) for t in req.get("titles") or []])
            self.send(event="spec", spec=hostproto.dialog_spec(cmd), options=options)
            return
        if op == "run":
            self.current = int(req.get("id", 0))
            self.send(event="done", id=self.current, outputs=self.run(req))
            return
        raise InputError(f"unknown request {op!r}")

    def check(self) -> None:
        if self.current is not None and self.current in self.cancelled:
            raise Cancelled()

    def progress(self, fraction: float) -> None:
        self.check()
        now = time.monotonic()
        if now - self._last_progress >= 0.1 or fraction >= 1.0:
            self._last_progress = now
            self.send(event="progress", value=float(min(max(fraction, 0.0), 1.0)))

    def status(self, text: str) -> None:
        self.check()
        self.send(event="status", text=str(text))

    def run(self, req: dict) -> dict:
        from pcfij.imagej import dialogs, hostproto
        from pcfij.imagej.files import write_outputs
        from pcfij.imagej.runners import find_runner
        from pcfij.outputs import Context

        cmd = hostproto.find_command(str(req.get("command")))
        runner = find_runner(cmd)
        if runner is None:
            raise InputError(f"{cmd.title}: no engine for this command in this installation")
        descs = req.get("images") or {}
        raw = dict(req.get("values") or {})
        values = dialogs.check_values(cmd, {k: v for k, v in raw.items() if k not in descs})
        inputs = {}
        for p in dialogs.image_params(cmd):
            d = descs.get(p.name)
            if d is None:
                if not p.optional:
                    raise InputError(f"{cmd.title}: no image given for {p.macro_key}")
                inputs[p.name] = None
                continue
            inputs[p.name] = hostproto.read_input(d)
        region = hostproto.apply_selection(cmd, descs, inputs)
        ctx = Context(progress=self.progress, status=self.status, command_title=cmd.title)
        self.check()
        outputs = runner(values, inputs, ctx)
        self.check()
        if region is not None and not any("selection" in line for line in outputs.log):
            x, y, w, h = region
            outputs.log.append(f"{cmd.title}: analysed the selection's bounding rectangle "
                               f"x={x} y={y} {w}x{h} pixels")
        folder = values.get("output")
        if folder and str(folder).strip():
            write_outputs(outputs, str(folder).strip())
        inputs.clear()
        # one name per output slot, not per call: the host keeps image files between calls
        # and the next call writes over their memory instead of fresh pages
        return hostproto.encode_outputs(outputs, self.folder, "out")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    folder = argv[0] if argv else os.environ.get("PCFIJ_SHM_DIR", "/dev/shm")
    proto = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints go to stderr
    sys.stdout = sys.stderr
    warnings.simplefilter("default")
    Worker(proto, sys.stdin, folder).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
