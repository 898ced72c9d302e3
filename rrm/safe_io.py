"""The one reader of untrusted JSON and NumPy files: bounded, and every failure one line.

A spec file, an artifact's ``manifest.json``, its ``weights.npz`` and the images and
labels given to ``rrm golden`` / ``rrm sim`` are read here and nowhere else. Each reader
checks what the standard ones trust:

- JSON (:func:`parse_json`, :func:`read_json`): the file's size (:data:`MAX_JSON_BYTES`),
  the nesting depth (:data:`MAX_JSON_DEPTH`, checked before parsing so Python's
  recursion limit is never reached) and the digits of every integer
  (:data:`MAX_INT_DIGITS`, so a 5,000-digit number is refused by name instead of
  hitting Python's conversion limit).
- ``.npy`` (:func:`read_npy`) and every member of an ``.npz`` (:func:`read_npz`): the
  header is parsed first; an object dtype is refused and the bytes the header declares
  (shape x item size) must fit in what the file (or the zip member) actually holds, so
  a header declaring 10^12 elements is refused before anything is allocated.

Every failure raises :class:`~rrm.errors.UserError` (or the ``error`` class given)
naming the file and the problem. This module needs numpy only.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .errors import UserError

#: Deepest nesting of arrays and objects a JSON file may have (a spec has 4).
MAX_JSON_DEPTH = 32
#: Most digits an integer in a JSON file may have (a 64-bit integer has 20).
MAX_INT_DIGITS = 40
#: Largest JSON file read (a manifest is a few kB).
MAX_JSON_BYTES = 16 << 20
#: Deflate's largest compression ratio: a member of an .npz cannot hold more than this
#: many bytes per stored byte.
MAX_DEFLATE_RATIO = 1032


def _json_depth(text: str) -> int:
    """Deepest nesting of [ and { in ``text``, outside strings (no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_JSON_DEPTH:
                    return deepest
        elif char in "]}":
            depth -= 1
    return deepest


def _parse_int(digits: str) -> int:
    count = len(digits.lstrip("-"))
    if count > MAX_INT_DIGITS:
        raise _TooManyDigits(count)
    return int(digits)


class _TooManyDigits(Exception):
    def __init__(self, count: int):
        self.count = count


def parse_json(text: str, what: str, error: type[UserError] = UserError) -> Any:
    """Parse JSON ``text`` read from ``what`` (a file name, for the message), bounded."""
    if len(text) > MAX_JSON_BYTES:
        raise error(f"{what} is too large for a JSON file of rr-mobilenet "
                    f"({len(text):,} characters; at most {MAX_JSON_BYTES:,})")
    if _json_depth(text) > MAX_JSON_DEPTH:
        raise error(f"{what} is nested too deeply (more than {MAX_JSON_DEPTH} levels of arrays "
                    f"and objects)")
    try:
        return json.loads(text, parse_int=_parse_int)
    except _TooManyDigits as exc:
        raise error(f"{what} holds an integer of {exc.count:,} digits (at most {MAX_INT_DIGITS})") from None
    except json.JSONDecodeError as exc:
        raise error(f"{what} is not valid JSON ({exc})") from None
    except (ValueError, RecursionError, OverflowError) as exc:   # belt and braces
        raise error(f"{what} cannot be read as JSON ({type(exc).__name__}: {exc})") from None


def read_json(path: str | os.PathLike, what: str | None = None,
              error: type[UserError] = UserError) -> Any:
    """Read and parse the UTF-8 JSON file ``path``, bounded (see :func:`parse_json`)."""
    path = Path(path)
    what = what or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise error(f"{what} is too large for a JSON file of rr-mobilenet "
                        f"({size:,} bytes; at most {MAX_JSON_BYTES:,})")
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"{what} is not UTF-8 text (a JSON file is)") from None
    except OSError as exc:
        raise error(f"{what} cannot be read ({exc.strerror or exc})") from None
    return parse_json(text, what, error)


def _check_header(handle, available: int, what: str, error: type[UserError]) -> None:
    """Read an .npy header from ``handle``; refuse object dtypes and declared sizes over
    ``available`` bytes (what the file holds after the header)."""
    start = handle.tell()
    try:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
        elif version in ((2, 0), (3, 0)):
            shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
        else:
            raise ValueError(f"unknown .npy format version {version}")
    except (ValueError, OSError, EOFError, SyntaxError, TypeError, MemoryError) as exc:
        raise error(f"{what} does not have a valid .npy header ({exc})") from None
    if dtype.hasobject:
        raise error(f"{what} cannot be read: it holds Python objects (dtype {dtype}); only plain numeric arrays are")
    declared = math.prod(shape) * dtype.itemsize
    held = available - (handle.tell() - start)
    if declared > held:
        raise error(f"{what} declares shape {tuple(shape)} of {dtype} ({declared:,} bytes) but holds "
                    f"only {max(held, 0):,} bytes: truncated or forged header")


def read_npy(path: str | os.PathLike, what: str | None = None,
             error: type[UserError] = UserError) -> np.ndarray:
    """A plain .npy array from ``path`` (no pickles), its header checked against the file size."""
    path = Path(path)
    what = what or str(path)
    if path.is_dir():
        raise error(f"{what} is a directory, not a .npy file")
    if not path.is_file():
        raise error(f"{what} does not exist")
    with open(path, "rb") as handle:
        magic = handle.read(6)
        if magic.startswith(b"PK"):
            raise error(f"{what} is an .npz archive; give a single .npy array")
        if magic != b"\x93NUMPY":
            raise error(f"{what} is not a .npy file (it does not start with NumPy's header)")
        handle.seek(0)
        _check_header(handle, path.stat().st_size, what, error)
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, MemoryError) as exc:
        raise error(f"{what} cannot be read as a .npy array ({exc})") from None
    if not isinstance(array, np.ndarray):   # pragma: no cover - ruled out by the magic check
        raise error(f"{what} is not a single .npy array")
    return array


def read_npz(path: str | os.PathLike, what: str | None = None,
             error: type[UserError] = UserError) -> dict[str, np.ndarray]:
    """Every array of the .npz ``path`` (no pickles); each member's header is checked against
    the bytes the zip member holds before it is read."""
    path = Path(path)
    what = what or str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                member = f"{what}: member {info.filename!r}"
                if not info.filename.endswith(".npy"):
                    raise error(f"{member} is not an .npy array")
                limit = info.compress_size * (1 if info.compress_type == zipfile.ZIP_STORED
                                              else MAX_DEFLATE_RATIO)
                if info.file_size > limit:
                    raise error(f"{member} claims {info.file_size:,} bytes from {info.compress_size:,} "
                                f"stored: forged zip entry")
                with archive.open(info) as handle:
                    _check_header(_Tell(handle), info.file_size, member, error)
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except UserError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, MemoryError, KeyError,
            NotImplementedError, RuntimeError) as exc:
        raise error(f"{what} cannot be read as .npz ({type(exc).__name__}: {exc})") from None


class _Tell:
    """A read-only stream that counts what was read (zip members cannot always tell())."""

    def __init__(self, handle):
        self.handle, self.position = handle, 0

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.position += len(data)
        return data

    def tell(self) -> int:
        return self.position
