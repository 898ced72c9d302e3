"""The rules every command follows for what it writes (issue 27).

- A file output (``--out FILE``) is refused if a directory stands there, and if a file does,
  unless ``--force``; its directory must be writable. This is checked before any long work
  (:func:`check_file_out`), so a simulation or a model run never ends in "cannot write".
- A file appears complete or not at all: it is written to a temporary sibling and renamed
  (:func:`write_bytes_atomic`), with the mode a new file gets under the umask (not
  ``mkstemp``'s 0600).
- A directory output that a command creates is removed again if the command fails
  (:func:`removed_on_failure`): a crash leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from rrm.errors import UserError


def _nearest_existing(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_writable_dir(directory: Path, what: str) -> None:
    """UserError unless ``directory`` (or, if it does not exist yet, its nearest existing
    ancestor) is a directory a file can be created in (probed: root ignores permissions)."""
    base = _nearest_existing(directory)
    if not base.is_dir():
        raise UserError(f"{what}: {base} is a file, not a directory")
    try:
        with tempfile.TemporaryFile(dir=base):
            pass
    except OSError as exc:
        raise UserError(f"{what}: cannot write in {base} ({exc.strerror or exc})") from None


def check_file_out(path: Path, force: bool, option: str = "--out", parent_must_exist: bool = False) -> None:
    """Refuse an output file that is a directory, that exists (without ``force``), or whose
    directory cannot be written; call it before the long work."""
    if path.is_dir():
        raise UserError(f"{option} {path} is a directory; give the name of the file to write")
    if path.exists() and not force:
        raise UserError(f"{option} {path} exists (give --force to overwrite it)")
    parent = path.parent
    if parent_must_exist and not parent.is_dir():
        why = "is not a directory" if parent.exists() else "does not exist"
        raise UserError(f"{option} {path}: its directory {parent} {why} (create it first)")
    check_writable_dir(parent, f"{option} {path}")


def _umask_mode(mode: int = 0o666) -> int:
    umask = os.umask(0)
    os.umask(umask)
    return mode & ~umask


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary sibling and a rename (no partial file),
    with the umask's mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def removed_on_failure(directory: Path, keep_files: bool = False):
    """Remove ``directory`` (and the parents created for it) if the block raises and the
    directory did not exist before. With ``keep_files`` (a training run, whose checkpoint
    lets it resume) only empty directories are removed."""
    directory = Path(directory)
    first_new = None
    probe = Path(os.path.abspath(directory))
    while not probe.exists() and probe != probe.parent:
        first_new, probe = probe, probe.parent
    try:
        yield directory
    except BaseException:
        if first_new is not None and first_new.exists():
            if not keep_files:
                shutil.rmtree(first_new, ignore_errors=True)
            elif not any(path.is_file() for path in first_new.rglob("*")):
                shutil.rmtree(first_new, ignore_errors=True)
        raise
