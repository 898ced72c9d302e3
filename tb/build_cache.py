"""A directory made once and shared: by pytest-xdist workers and by later runs.

:func:`made_once` is the cache both ``tb.build`` (a design's build) and
``tb.verilator_runtime`` (the shared run-time archive) keep their work in: the first
caller takes a file lock on ``<dir>.lock``, makes the directory in a hidden sibling
and renames it into place only when complete (a marker file says so); the others wait
on the lock and then find it. A failure leaves no directory behind.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path
from typing import Callable


def made_once(parent: Path, name: str, marker: str, make: Callable[[Path], None]) -> tuple[Path, bool]:
    """``parent/name``, made by ``make(staging)`` unless ``parent/name/marker`` exists; ``make``
    writes ``marker`` last. Returns the directory and whether this call made it."""
    final = parent / name
    done = final / marker
    if done.is_file():
        return final, False
    parent.mkdir(parents=True, exist_ok=True)
    with open(parent / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.is_file():   # another worker made it while we waited
            return final, False
        staging = parent / f".{name}.{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            make(staging)
            if not (staging / marker).is_file():
                raise RuntimeError(f"making {final} wrote no {marker}")
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        shutil.rmtree(final, ignore_errors=True)
        staging.rename(final)
        return final, True
