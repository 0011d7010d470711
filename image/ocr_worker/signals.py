"""SIGTERM before ``warm`` or ``worker`` is ready: exit 0 at once, and keep Paddle from taking it.

A task stopped during warm-up or model load (scale-in, a deployment, a Spot reclaim) holds no
document: it must exit 0 promptly, or ECS records a failed container and the "task failed" alarm
fires. Two things stand in the way:

- Python's default for SIGTERM kills the process (exit 143): :func:`stop_promptly` raises
  :class:`Stopped` instead, which the command turns into exit 0.
- ``import paddle`` installs C-level handlers for SIGTERM (and SIGSEGV, SIGABRT, ...) in
  ``core.init_glog``, which print a C++ trace and exit 143 ("FatalError: Termination signal"),
  replacing Python's; building a predictor installs them again. :func:`import_paddle` removes
  them the moment they are installed (``paddle.disable_signal_handler``, inside the import) and
  puts Python's back, so no point of the import is unguarded; SIGTERM and SIGINT are only
  noted during the import and raised after it, since Paddle turns an exception inside it into
  an import error. A
  crash still ends the process with a non-zero exit, only without Paddle's C++ trace.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import signal
import sys
from typing import Optional


class Stopped(Exception):
    """SIGTERM or SIGINT before the command installed its own handlers."""


def _raise_stopped(signum, _frame) -> None:
    raise Stopped(signal.Signals(signum).name)


def stop_promptly() -> None:
    """Until the command installs its own handlers, SIGTERM and SIGINT raise :class:`Stopped`."""
    signal.signal(signal.SIGTERM, _raise_stopped)
    signal.signal(signal.SIGINT, _raise_stopped)


class _KeepSignalsFromPaddle(importlib.abc.MetaPathFinder):
    """Wraps ``paddle.base.core.init_glog``: right after it installs Paddle's handlers, they are
    disabled and Python's handlers (whatever they are then) put back."""

    def find_spec(self, fullname: str, path, target=None) -> Optional[importlib.machinery.ModuleSpec]:
        if fullname != "paddle.base.core":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def exec_module(module) -> None:
            load(module)
            init_glog = module.init_glog

            def init_glog_keeping_signals(*args) -> None:
                handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
                init_glog(*args)
                module.disable_signal_handler()
                for number, handler in handlers.items():
                    signal.signal(number, handler)

            module.init_glog = init_glog_keeping_signals

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def import_paddle() -> None:
    """Import Paddle, if installed, on the main thread (signal handlers can only be set there),
    with its signal handlers kept out. Call before PaddleOCR is imported anywhere: PaddleX may
    import Paddle from threads of its own."""
    if "paddle" in sys.modules or importlib.util.find_spec("paddle") is None:  # ONNX Runtime only
        return
    sys.meta_path.insert(0, _KeepSignalsFromPaddle())
    # Held until the import is over: a Stopped raised inside it is caught by Paddle's own import
    # code and re-raised as "Can not import paddle core", a traceback and exit 1. Blocking the
    # signals on this thread is not enough: the kernel may deliver them to another thread, and
    # Python then runs the handler here, mid-import. So the import runs under handlers that only
    # note the signal, and the first one noted is raised again after it.
    stops = (signal.SIGTERM, signal.SIGINT)
    noted: list[int] = []
    previous = {number: signal.signal(number, lambda signum, _frame: noted.append(signum)) for number in stops}
    try:
        import paddle  # noqa: F401
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if noted:
        signal.raise_signal(noted[0])
