"""Reading ``.npz`` archives without trusting them: no code runs, memory stays bounded.

``np.load`` with pickles allowed hands a member's pickle to Python's unpickler, which can call
any importable function: a crafted "keypoints" file could run a command. VideoPose3D's 2D and 3D
files do store pickled objects (nested dicts of arrays in a 0-d object array), so they cannot be
read with ``allow_pickle=False`` either. This module reads every member itself:

* the zip directory is checked first (a member's declared size is bounded, and so is its
  compression ratio, so a small zip bomb cannot expand to gigabytes);
* a plain array member is parsed from its ``.npy`` header and must hold exactly the bytes its shape
  and dtype say (a header that claims ``(10**12,)`` is refused, not allocated);
* a member with Python objects is unpickled by :class:`RestrictedUnpickler`, which builds only
  dicts, lists, tuples, strings, bytes, numbers, booleans, ``None``, numpy arrays, numpy scalars and
  dtypes. Any other global (``os.system``, ``builtins.eval``, a class of some package, ...) is
  refused with a :class:`~dilpose.errors.DataError` before it is imported or called.

Everything that goes wrong is a :class:`~dilpose.errors.DataError` naming the file and the member.
"""

from __future__ import annotations

import importlib
import io
import math
import pickle
import pickletools
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from . import limits
from .errors import DataError

#: Largest uncompressed member accepted by default (bytes); the limits live in :mod:`.limits`.
MAX_MEMBER_BYTES = limits.MAX_MEMBER_BYTES
_MAX_HEADER_BYTES = 10_000  # numpy's own limit on a .npy header


def _multiarray_attr(name: str):
    # numpy 2 moved the module to numpy._core; files written by numpy 1 name numpy.core.
    for module in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
    raise ImportError(f"numpy has no multiarray.{name}")  # pragma: no cover - numpy always has both


class _NdarrayToken:
    """Stands in for ``numpy.ndarray`` inside a pickle.

    A numpy pickle only passes the class to ``_reconstruct``, which allocates an empty array. A
    crafted pickle could instead call the class directly with a huge shape; the token allows that
    call only for arrays no larger than the pickle itself could describe.
    """

    def __init__(self, budget: int):
        self.budget = budget

    def __call__(self, shape, dtype=float, *args, **kwargs):
        nbytes = _nbytes(shape, dtype)
        if nbytes is None or nbytes > self.budget:
            raise pickle.UnpicklingError(
                f"refusing an array of shape {shape!r} ({dtype!r}) larger than the file"
            )
        return np.ndarray(shape, dtype, *args, **kwargs)


def _nbytes(shape, dtype) -> int | None:
    try:
        shape = (shape,) if isinstance(shape, int) else tuple(int(s) for s in shape)
        if any(s < 0 for s in shape):
            return None
        return math.prod(shape) * np.dtype(dtype).itemsize
    except (TypeError, ValueError, OverflowError):
        return None


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that admits only what VideoPose3D's npz files contain.

    Containers and scalars (dict, list, tuple, set, str, bytes, int, float, bool, None) are pickle
    opcodes and need no import. The only globals admitted are the four numpy needs to rebuild arrays
    and scalars: ``multiarray._reconstruct``, ``multiarray.scalar``, ``numpy.ndarray`` and
    ``numpy.dtype``. Everything else raises :class:`DataError` naming ``source``.
    """

    def __init__(self, file, source: str | Path, budget: int):
        super().__init__(file)
        self.source = source
        self.token = _NdarrayToken(budget)
        reconstruct, scalar = _multiarray_attr("_reconstruct"), _multiarray_attr("scalar")
        token = self.token

        def safe_reconstruct(subtype, shape, dtype):
            # numpy's pickles always pass the ndarray class and an empty shape (0,); the data
            # arrives later through __setstate__, from bytes that are in the file.
            if subtype is not token:
                raise pickle.UnpicklingError("_reconstruct of something other than numpy.ndarray")
            if _nbytes(shape, dtype) is None or _nbytes(shape, dtype) > token.budget:
                raise pickle.UnpicklingError(f"refusing an array of shape {shape!r}")
            return reconstruct(np.ndarray, shape, dtype)

        self._allowed = {}
        for module in ("numpy._core.multiarray", "numpy.core.multiarray"):
            self._allowed[(module, "_reconstruct")] = safe_reconstruct
            self._allowed[(module, "scalar")] = scalar
        self._allowed[("numpy", "ndarray")] = token
        self._allowed[("numpy", "dtype")] = np.dtype

    def find_class(self, module: str, name: str):
        try:
            return self._allowed[(module, name)]
        except (KeyError, TypeError):
            raise DataError(
                self.source,
                f"refused to unpickle {module}.{name}: the file may only hold dicts, "
                "lists, strings, numbers and numpy arrays (a pickle that names other "
                "code could run it)",
            ) from None

    def persistent_load(self, pid):
        raise DataError(self.source, "refused to unpickle a persistent id: not a numpy pickle")


def unpickle(data: bytes, source: str | Path, budget: int | None = None) -> Any:
    """Unpickle ``data`` with :class:`RestrictedUnpickler`; any failure is a :class:`DataError`."""
    # An array rebuilt from a pickle gets its values from bytes inside the pickle, so no honest
    # array is larger than the pickle itself (plus slack for tiny ones).
    budget = len(data) + (1 << 16) if budget is None else budget
    try:
        # A first pass over the opcodes checks every counted length against the bytes that are
        # really there: Python's unpickler allocates a BINBYTES/BINUNICODE buffer of the announced
        # size before it reads, so one flipped length byte would cost gigabytes. genops reads from
        # the bytes as they are and fails on a short read instead.
        with warnings.catch_warnings():  # protocol-0 strings with odd escapes warn while decoded
            warnings.simplefilter("ignore")
            for _ in pickletools.genops(data):
                pass
    except Exception as e:  # ValueError for short reads and unknown opcodes
        raise DataError(source, f"broken pickle ({type(e).__name__}: {e})") from None
    try:
        return RestrictedUnpickler(io.BytesIO(data), source, budget).load()
    except DataError:
        raise
    except RecursionError:
        raise DataError(source, "pickled objects nested too deeply") from None
    except MemoryError:
        raise DataError(source, "pickled objects too large for memory") from None
    except Exception as e:  # UnpicklingError, EOFError, ValueError, TypeError, ...: a broken pickle
        raise DataError(source, f"broken pickle ({type(e).__name__}: {e})") from None


def _check_member(path: Path, info: zipfile.ZipInfo, max_bytes: int) -> None:
    name = info.filename
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise DataError(
            path,
            f"member {name!r} uses zip compression method {info.compress_type}; "
            "npz files are stored or deflated",
        )
    if info.file_size > max_bytes:
        raise DataError(
            path,
            f"member {name!r} declares {info.file_size:,} bytes, more than the limit of "
            f"{max_bytes:,}",
        )
    if info.compress_type == zipfile.ZIP_STORED:
        allowed = info.compress_size + 1024
    else:  # checked before anything is inflated: the declared sizes bound what zipfile reads
        allowed = max(info.compress_size * limits.MAX_INFLATE_RATIO, limits.INFLATE_ALLOWANCE)
    if info.file_size > allowed:
        raise DataError(
            path,
            f"member {name!r} declares {info.file_size:,} bytes from {info.compress_size:,} "
            f"compressed, more than the {limits.MAX_INFLATE_RATIO}x inflation allowed "
            "(forged sizes or a zip bomb)",
        )


def _parse_npy(path: Path, where: str, data: bytes, allow_objects: bool) -> np.ndarray:
    """One ``.npy`` member's (or file's) bytes -> array, checking the header against the data
    length (a header that claims 10**11 frames is refused, not allocated). where: which member, for
    messages (``"member 'x.npy'"``) or ``"the array"``."""
    buf = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(buf)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(
                buf, max_header_size=_MAX_HEADER_BYTES
            )
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(
                buf, max_header_size=_MAX_HEADER_BYTES
            )
        else:
            raise DataError(
                path, f"{where}: .npy format version {version} is not supported (1.0 or 2.0)"
            )
    except DataError:
        raise
    except (
        Exception
    ) as e:  # ValueError for a bad magic or header; SyntaxError/TypeError from its dict
        raise DataError(path, f"{where}: not a valid .npy array ({e})") from None
    body = data[buf.tell() :]
    if dtype.hasobject:
        if not allow_objects:
            raise DataError(
                path, f"{where} holds pickled Python objects; this file should hold plain arrays"
            )
        arr = unpickle(body, f"{path} ({where})")
        if not isinstance(arr, np.ndarray):
            raise DataError(path, f"{where}: the pickle holds {type(arr).__name__}, not an array")
        return arr
    count = math.prod(shape)
    expected = count * dtype.itemsize
    if len(body) != expected:
        what = "truncated" if len(body) < expected else "has extra bytes"
        raise DataError(
            path,
            f"{where} {what}: shape {shape} of {dtype} needs {expected:,} bytes, the file holds "
            f"{len(body):,}",
        )
    try:
        arr = np.frombuffer(body, dtype=dtype, count=count)
        return arr.reshape(shape, order="F" if fortran else "C").copy()
    except (ValueError, TypeError) as e:
        raise DataError(path, f"{where}: cannot build the array ({e})") from None


def load(
    path: str | Path,
    allow_objects: bool = False,
    max_member_bytes: int = MAX_MEMBER_BYTES,
) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` file: ``{name: array}`` (names without ``.npy``).

    allow_objects: admit members with pickled objects (VideoPose3D's nested dicts), unpickled by
    :class:`RestrictedUnpickler`. Without it such a member is an error. A 0-d object array is
    returned as it is; ``value.item()`` gives the dict.
    Raises :class:`DataError` naming the file for a missing, truncated, forged or foreign file.
    """
    path = Path(path)
    # A regular file of bounded size, opened without blocking: a FIFO or /dev/zero is refused.
    with limits.open_regular(path, "npz archive", limits.MAX_NPZ_BYTES) as f:
        return _load_open(path, f, allow_objects, max_member_bytes)


def _load_open(path: Path, f, allow_objects: bool, max_member_bytes: int) -> dict:
    try:
        if not zipfile.is_zipfile(f):
            raise DataError(
                path, "not a readable npz archive (truncated or foreign file: no zip directory)"
            )
        out: dict[str, np.ndarray] = {}
        with zipfile.ZipFile(f) as z:
            infos = z.infolist()
            for info in infos:
                _check_member(path, info, max_member_bytes)
            if sum(i.file_size for i in infos) > max_member_bytes:
                raise DataError(
                    path, f"members declare more than {max_member_bytes:,} bytes in all"
                )
            for info in infos:
                if info.is_dir():
                    continue
                name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                if name in out:
                    raise DataError(path, f"member {name!r} appears twice")
                with z.open(info) as member:
                    data = member.read()
                out[name] = _parse_npy(path, f"member {info.filename!r}", data, allow_objects)
        return out
    except DataError:
        raise
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        EOFError,
        NotImplementedError,
        RuntimeError,
    ) as e:
        # RuntimeError: an encrypted member; NotImplementedError: an unknown compression method.
        raise DataError(path, f"not a readable npz archive (truncated or corrupt): {e}") from None
    except zlib.error as e:
        raise DataError(
            path, f"not a readable npz archive (corrupt compressed data): {e}"
        ) from None
    except (OSError, ValueError) as e:
        raise DataError(path, f"cannot read npz archive: {e}") from None


def load_npy(path: str | Path, max_bytes: int = limits.MAX_NPY_BYTES) -> np.ndarray:
    """Read a plain ``.npy`` array (no pickles) from a regular file of at most ``max_bytes``; its
    header must describe exactly the bytes that follow. Any problem is a :class:`DataError` naming
    the file."""
    path = Path(path)
    data = limits.read_bytes(path, ".npy array", max_bytes)
    return _parse_npy(path, "the array", data, allow_objects=False)
