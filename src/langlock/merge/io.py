"""Safetensors checkpoints, one tensor at a time: a reader, a streaming sharded writer, a staged output dir.

Why not `safetensors.safe_open` / `save_file`?  Two reasons, both about memory:

- `safe_open` memory-maps the shard, and every page it touches counts in the process's resident set until
  the kernel drops it, so the measured peak of a merge grows with the shards read, not with the tensors in
  flight.  Its numpy backend also cannot return bfloat16.  The reader here parses the (documented, tiny)
  header itself and `preadv`s exactly one tensor's bytes into a fresh numpy buffer.
- `save_file` needs every tensor of a shard in memory at once.  A merge knows the name, dtype and shape of
  every output tensor before it reads any input, so the writer lays out all shards up front, writes each
  shard's header first and then streams each tensor's bytes as soon as it is computed.

The files written are ordinary safetensors shards plus the `model.safetensors.index.json` that
transformers expects; the tests read them back with `safetensors.safe_open` and `AutoModelForCausalLM`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError, UsageError

logger = logging.getLogger(__name__)

INDEX_NAME = "model.safetensors.index.json"
SINGLE_NAME = "model.safetensors"
MAX_HEADER_BYTES = 100_000_000  # the limit the safetensors library itself enforces

#: safetensors dtype code -> (numpy dtype of the raw storage, bytes per element)
_STORAGE = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "BF16": np.dtype("<u2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
FLOAT_CODES = ("F64", "F32", "F16", "BF16")
#: user-facing dtype names accepted by `--dtype`
DTYPE_NAMES = {"float32": "F32", "fp32": "F32", "float16": "F16", "fp16": "F16", "bfloat16": "BF16",
               "bf16": "BF16", "float64": "F64"}


def itemsize(code: str) -> int:
    return _STORAGE[code].itemsize


@dataclass(frozen=True)
class TensorInfo:
    """Where one tensor lives: shard file, absolute byte offset, safetensors dtype code and shape."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    shard: Path
    offset: int
    nbytes: int

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


def parse_size(text: str | int) -> int:
    """'2GB' -> 2_000_000_000, '500MiB' -> 500 * 2**20, plain integers are bytes (transformers' rules)."""
    if isinstance(text, int):
        return text
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?I?B)?\s*", str(text).upper())
    if not m:
        raise UsageError(f"cannot read size {text!r}; use e.g. 500MB, 2GB or 1GiB")
    unit = m.group(2) or "B"
    base = 1024 if "I" in unit else 1000
    power = {"B": 0, "K": 1, "M": 2, "G": 3, "T": 4}[unit[0]]
    return int(float(m.group(1)) * base**power)


def read_header(path: Path) -> tuple[dict, dict[str, TensorInfo]]:
    """Parse and check one shard's header; any inconsistency is an `InputError` naming the file."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise InputError(f"{path}: corrupt safetensors header (file has {size} bytes)")
            n = int.from_bytes(head, "little")
            if n <= 0 or n > MAX_HEADER_BYTES or 8 + n > size:
                raise InputError(f"{path}: corrupt safetensors header (header length {n}, file size {size})")
            raw = fh.read(n)
    except OSError as err:
        raise InputError(f"{path}: cannot read shard ({err.strerror or err})") from err
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: corrupt safetensors header (not valid JSON: {err})") from err
    if not isinstance(header, dict):
        raise InputError(f"{path}: corrupt safetensors header (not a JSON object)")
    meta = header.pop("__metadata__", None) or {}
    data_start, data_size = 8 + n, size - 8 - n
    tensors: dict[str, TensorInfo] = {}
    for name, entry in header.items():
        try:
            code, shape, (begin, end) = entry["dtype"], tuple(int(d) for d in entry["shape"]), entry["data_offsets"]
        except (KeyError, TypeError, ValueError) as err:
            raise InputError(f"{path}: corrupt safetensors header (bad entry for {name!r})") from err
        if code not in _STORAGE:
            raise InputError(f"{path}: tensor {name!r} has unsupported dtype {code!r}")
        expected = math.prod(shape) * itemsize(code)
        if any(d < 0 for d in shape) or end - begin != expected or begin < 0 or end > data_size:
            raise InputError(f"{path}: corrupt safetensors header (offsets of {name!r} do not match its "
                             f"shape {list(shape)} and dtype {code}, or run past the end of the file)")
        tensors[name] = TensorInfo(name, code, shape, path, data_start + begin, expected)
    return meta, tensors


def _pread_into(fd: int, buf: np.ndarray, offset: int) -> None:
    view = memoryview(buf).cast("B")
    done = 0
    while done < len(view):
        got = os.preadv(fd, [view[done:]], offset + done)
        if got <= 0:
            raise InputError(f"unexpected end of file at byte {offset + done}")
        done += got


def read_raw(info: TensorInfo) -> np.ndarray:
    """The tensor's stored bytes as a fresh (writable, unshared) numpy array of its storage dtype."""
    buf = np.empty(info.shape, dtype=_STORAGE[info.dtype])
    try:
        fd = os.open(info.shard, os.O_RDONLY)
    except OSError as err:
        raise InputError(f"{info.shard}: cannot open shard ({err.strerror})") from err
    try:
        _pread_into(fd, buf, info.offset)
    finally:
        os.close(fd)
    return buf


def to_compute(raw: np.ndarray, code: str, compute: np.dtype) -> np.ndarray:
    """Stored array -> floating array for arithmetic (bfloat16 is widened bit-exactly to float32)."""
    if code == "BF16":
        out = (raw.astype(np.uint32) << 16).view(np.float32)
        return out if compute == np.float32 else out.astype(compute)
    return raw.astype(compute, copy=False)


def from_compute(arr: np.ndarray, code: str) -> np.ndarray:
    """Floating array -> storage array of `code`; float32 -> bfloat16 rounds to nearest even, like torch."""
    if code == "BF16":
        f = np.ascontiguousarray(arr, dtype=np.float32)
        bits = f.view(np.uint32)
        rounded = ((bits + (((bits >> 16) & 1) + 0x7FFF)) >> 16).astype(np.uint16)
        nan = np.isnan(f)
        if nan.any():
            rounded[nan] = ((bits[nan] >> 16) | 0x40).astype(np.uint16)
        return rounded
    return np.ascontiguousarray(arr, dtype=_STORAGE[code])


class Checkpoint:
    """A model directory: `config.json` plus safetensors shards (index file or a single `model.safetensors`).

    Only headers are read on construction; `read_raw`/`read` fetch one tensor's bytes on demand.
    """

    def __init__(self, path: str | os.PathLike, label: str | None = None):
        self.path = Path(path)
        self.label = label or str(path)
        if not self.path.is_dir():
            raise InputError(f"{self.path}: not a model directory")
        cfg = self.path / "config.json"
        try:
            self.config = json.loads(cfg.read_text(encoding="utf-8"))
        except FileNotFoundError as err:
            raise InputError(f"{self.path}: no config.json (a Hugging Face model directory is expected)") from err
        except (OSError, json.JSONDecodeError) as err:
            raise InputError(f"{cfg}: unreadable config ({err})") from err
        self.tensors: dict[str, TensorInfo] = {}
        self.shards: list[Path] = []
        index = self.path / INDEX_NAME
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            except (OSError, json.JSONDecodeError, KeyError, TypeError) as err:
                raise InputError(f"{index}: unreadable index file ({err})") from err
            shard_names = list(dict.fromkeys(weight_map.values()))
            missing = [s for s in shard_names if not (self.path / s).is_file()]
            if missing:
                raise InputError(f"{self.path}: missing shard {missing[0]} listed in {INDEX_NAME}"
                                 + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
            headers = {s: read_header(self.path / s)[1] for s in shard_names}
            for name, shard in weight_map.items():
                if name not in headers[shard]:
                    raise InputError(f"{self.path / shard}: tensor {name!r} listed in the index is not in this shard")
                self.tensors[name] = headers[shard][name]
            self.shards = [self.path / s for s in shard_names]
        elif (self.path / SINGLE_NAME).is_file():
            self.shards = [self.path / SINGLE_NAME]
            self.tensors = read_header(self.shards[0])[1]
        elif any(self.path.glob("*.bin")) or any(self.path.glob("*.pt")):
            raise InputError(f"{self.path}: only safetensors checkpoints are merged (pickle files are never "
                             "loaded); re-save the model with save_pretrained(safe_serialization=True)")
        else:
            raise InputError(f"{self.path}: no model.safetensors or {INDEX_NAME} found")

    @property
    def largest_shard_bytes(self) -> int:
        return max(p.stat().st_size for p in self.shards)

    def read(self, name: str, compute: np.dtype | None = None) -> np.ndarray:
        """One tensor as a fresh float array (float32 unless `compute` says otherwise)."""
        info = self.tensors[name]
        return to_compute(read_raw(info), info.dtype, np.dtype(compute or np.float32))


@dataclass(frozen=True)
class OutEntry:
    name: str
    dtype: str
    shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * itemsize(self.dtype)


def layout_shards(entries: list[OutEntry], max_shard_bytes: int) -> list[list[OutEntry]]:
    """Greedy, order-preserving split into shards of at most `max_shard_bytes` (one tensor may exceed it)."""
    shards: list[list[OutEntry]] = [[]]
    size = 0
    for e in entries:
        if shards[-1] and size + e.nbytes > max_shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append(e)
        size += e.nbytes
    return shards


def shard_names(n: int) -> list[str]:
    return [SINGLE_NAME] if n == 1 else [f"model-{i + 1:05d}-of-{n:05d}.safetensors" for i in range(n)]


def _header_bytes(shard: list[OutEntry], metadata: dict[str, str]) -> bytes:
    header: dict = {"__metadata__": metadata}
    pos = 0
    for e in shard:
        header[e.name] = {"dtype": e.dtype, "shape": list(e.shape), "data_offsets": [pos, pos + e.nbytes]}
        pos += e.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    return len(raw).to_bytes(8, "little") + raw


class ShardedWriter:
    """Writes planned tensors, in plan order, straight into their shards; `close()` writes the index.

    At most one shard file is open and nothing but the tensor being written is held in memory.
    """

    def __init__(self, out_dir: Path, entries: list[OutEntry], max_shard_bytes: int,
                 metadata: dict[str, str] | None = None):
        self.out_dir = Path(out_dir)
        self.layout = layout_shards(entries, max_shard_bytes)
        self.names = shard_names(len(self.layout))
        self.metadata = {"format": "pt", **(metadata or {})}
        self._order = [(si, e) for si, shard in enumerate(self.layout) for e in shard]
        self._next = 0
        self._fh = None
        self._shard = -1

    @property
    def largest_shard_bytes(self) -> int:
        return max(sum(e.nbytes for e in s) for s in self.layout)

    def write(self, name: str, arr: np.ndarray) -> None:
        si, entry = self._order[self._next]
        if name != entry.name:
            raise RuntimeError(f"writer expected tensor {entry.name!r}, got {name!r}")
        data = np.ascontiguousarray(arr)
        if data.nbytes != entry.nbytes or tuple(data.shape) != entry.shape:
            raise RuntimeError(f"tensor {name!r}: planned {entry.shape} {entry.dtype}, got {data.shape} {data.dtype}")
        if si != self._shard:
            self._finish_shard()
            self._shard = si
            self._fh = open(self.out_dir / self.names[si], "wb")
            self._fh.write(_header_bytes(self.layout[si], self.metadata))
        self._fh.write(memoryview(data).cast("B"))
        self._next += 1

    def _finish_shard(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None

    def close(self) -> None:
        if self._next != len(self._order):
            raise RuntimeError(f"writer closed after {self._next} of {len(self._order)} tensors")
        self._finish_shard()
        if len(self.layout) > 1:
            weight_map = {e.name: self.names[si] for si, e in self._order}
            total = sum(e.nbytes for _, e in self._order)
            index = {"metadata": {"total_size": total}, "weight_map": weight_map}
            (self.out_dir / INDEX_NAME).write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")

    def abort(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def check_output_dir(path: str | os.PathLike, overwrite: bool) -> Path:
    """Refuse a non-empty existing output unless `overwrite`; called before any work starts."""
    path = Path(path)
    if path.exists() and not overwrite:
        if not path.is_dir() or any(path.iterdir()):
            raise UsageError(f"output {path} already exists and is not empty (pass --overwrite to replace it)")
    return path


def finished_merge(path: str | os.PathLike, resolved_config: dict) -> bool:
    """Whether `path` already holds this very merge: the same resolved settings in its langlock_merge.yaml.

    Outputs are renamed into place only when complete (`staged_output_dir`), so a directory with the marker
    is whole; rerunning a merge that was killed after that rename (or simply rerunning it) is then a no-op.
    """
    import yaml

    marker = Path(path) / "langlock_merge.yaml"
    if not marker.is_file():
        return False
    try:
        return yaml.safe_load(marker.read_text(encoding="utf-8")) == resolved_config
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False


@contextlib.contextmanager
def staged_output_dir(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Build the output under a hidden temporary name next to `path`; rename it into place on success.

    On any failure the temporary directory is removed, so no partial model directory is ever left behind.
    An existing `path` is replaced only when `overwrite` is set (and only after the new one is complete).
    """
    from ..io_utils import clear_stale_temps

    path = check_output_dir(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    clear_stale_temps(path)  # a killed merge's half-built directory (only under this process's run lock)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
