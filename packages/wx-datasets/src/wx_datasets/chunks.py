"""Direct chunk I/O for the ``data`` array of a local store: atomic writes, zero-copy reads.

The store is made with zarr-python and any zarr v3 reader can read it; this module only moves
the bytes of date chunks for the layouts it understands: a regular chunk grid of one date per
chunk with default keys (``c/i/j/k/l`` or ``c.i.j.k.l``), the ``bytes`` codec (little endian) optionally followed by
``blosc`` or ``zstd``, either alone or inside the ``sharding_indexed`` codec (inner chunks of one
date, index of ``(offset, nbytes)`` uint64 pairs with a CRC-32C at the end of the shard).

It exists for two reasons: every chunk or shard is written to a temporary file and renamed, so
an interrupted build never leaves a torn one, and a read decodes straight into the caller's
buffer without zarr-python's per-call event-loop round trip, which is what makes random
training reads fast.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
import zlib
from pathlib import Path

import numcodecs
import numpy as np

from wx_datasets.errors import StoreError

_SHUFFLE = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}
_EMPTY = np.uint64(2**64 - 1)  # index entry of an inner chunk that was never written


class ChunkCodec:
    """Encode and decode one chunk as zarr v3's ``bytes`` + optional compressor chain does."""

    def __init__(self, *, dtype: np.dtype, compressor) -> None:
        self.dtype = np.dtype(dtype).newbyteorder("<")
        self.compressor = compressor

    @classmethod
    def from_codecs(cls, codecs: list[dict], dtype: np.dtype) -> ChunkCodec | None:
        if not codecs or codecs[0]["name"] != "bytes" or len(codecs) > 2:
            return None
        if codecs[0].get("configuration", {}).get("endian", "little") != "little":
            return None
        if len(codecs) == 1:
            return cls(dtype=dtype, compressor=None)
        compressor = _compressor(codecs[1])
        return None if compressor is None else cls(dtype=dtype, compressor=compressor)

    def encode(self, values: np.ndarray) -> bytes:
        raw = np.ascontiguousarray(values, dtype=self.dtype)
        if self.compressor is None:
            return raw.tobytes()
        return bytes(self.compressor.encode(raw))

    def decode_into(self, raw: bytes | memoryview, out: np.ndarray) -> None:
        """Decode ``raw`` into the C-contiguous array ``out`` of this codec's dtype."""
        if self.compressor is None:
            flat = out.reshape(-1).view(np.uint8)
            if len(raw) != flat.size:
                raise ValueError(f"{len(raw)} bytes for a chunk of {flat.size}")
            flat[:] = np.frombuffer(raw, dtype=np.uint8)
        else:
            self.compressor.decode(raw, out=out)


def _compressor(codec: dict):
    config = codec.get("configuration", {})
    if codec["name"] == "blosc":
        return numcodecs.Blosc(
            cname=config["cname"],
            clevel=config["clevel"],
            shuffle=_SHUFFLE[config["shuffle"]],
            blocksize=config.get("blocksize", 0),
            typesize=config.get("typesize"),
        )
    if codec["name"] == "zstd":
        return numcodecs.Zstd(level=config.get("level", 0), checksum=config.get("checksum", False))
    return None


class DateChunks:
    """The date chunks of a local ``[time, ...]`` array with one date per (inner) chunk."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        metadata = json.loads((self.path / "zarr.json").read_text(encoding="utf-8"))
        self.shape = tuple(metadata["shape"])
        self.codec: ChunkCodec | None = None
        self.shard_dates = 1
        self._indexes: dict[int, np.ndarray] = {}  # shard -> [inner chunk, (offset, nbytes)]
        self._local = threading.local()  # per-thread read buffer
        grid = metadata.get("chunk_grid", {})
        encoding = metadata.get("chunk_key_encoding", {})
        self._separator = encoding.get("configuration", {}).get("separator", "/")
        if (
            grid.get("name") != "regular"
            or encoding.get("name") != "default"
            or self._separator not in ("/", ".")
            or metadata.get("data_type") not in ("float32", "float64")
        ):
            return
        outer = tuple(grid["configuration"]["chunk_shape"])
        codecs = metadata.get("codecs", [])
        dtype = np.dtype(metadata["data_type"])
        if codecs and codecs[0]["name"] == "sharding_indexed":
            self.codec = self._sharded_codec(codecs[0]["configuration"], outer, dtype)
        elif outer == (1, *self.shape[1:]):
            self.codec = ChunkCodec.from_codecs(codecs, dtype)

    def _sharded_codec(self, config: dict, outer: tuple, dtype: np.dtype) -> ChunkCodec | None:
        index_codecs = [c["name"] for c in config.get("index_codecs", [])]
        if (
            tuple(config["chunk_shape"]) != (1, *self.shape[1:])
            or outer[1:] != self.shape[1:]
            or config.get("index_location", "end") != "end"
            or index_codecs != ["bytes", "crc32c"]
        ):
            return None
        self.shard_dates = outer[0]
        return ChunkCodec.from_codecs(config["codecs"], dtype)

    def __getstate__(self) -> dict:
        """Without the per-thread buffer and index cache, e.g. for data-loader processes."""
        state = dict(self.__dict__)
        state["_local"], state["_indexes"] = None, {}
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._local = threading.local()

    @property
    def supported(self) -> bool:
        return self.codec is not None

    @property
    def sharded(self) -> bool:
        return self.shard_dates > 1

    def file_path(self, date: int) -> Path:
        """The chunk (or shard) file holding ``date``."""
        key = (str(date // self.shard_dates), *("0" for _ in self.shape[1:]))
        return self.path / self._separator.join(("c", *key))

    # -- writing ------------------------------------------------------------------------------

    def write(self, first: int, values: np.ndarray, present: np.ndarray) -> None:
        """Write dates ``first ..`` (whole shards, or through the end of the array)."""
        if not self.sharded:
            for t in np.flatnonzero(present):
                write_atomic(self.file_path(first + int(t)), self.codec.encode(values[t]))
            return
        if first % self.shard_dates:
            raise ValueError(f"date {first} does not start a shard of {self.shard_dates} dates")
        for start in range(0, values.shape[0], self.shard_dates):
            stop = min(start + self.shard_dates, values.shape[0])
            self._write_shard(first + start, values[start:stop], present[start:stop])

    def _write_shard(self, first: int, values: np.ndarray, present: np.ndarray) -> None:
        index = np.full(
            (self.shard_dates, 2), _EMPTY, dtype="<u8"
        )  # [inner chunk, (offset, nbytes)]
        parts, offset = [], 0
        for t in np.flatnonzero(present):
            payload = self.codec.encode(values[t])
            index[t] = (offset, len(payload))
            parts.append(payload)
            offset += len(payload)
        encoded_index = bytes(numcodecs.CRC32C().encode(index.tobytes()))
        write_atomic(self.file_path(first), b"".join(parts) + encoded_index)
        self._indexes.pop(first // self.shard_dates, None)

    # -- reading ------------------------------------------------------------------------------

    def read_into(self, date: int, out: np.ndarray) -> bool:
        """Decode ``date`` into ``out``; False (``out`` untouched) if it was never written."""
        path = self.file_path(date)
        try:
            if self.sharded:
                raw = self._read_inner(path, date)
                if raw is None:
                    return False
            else:
                with open(path, "rb") as handle:
                    if self.codec.compressor is None:
                        return self._read_raw(handle, path, out)
                    raw = self._read_whole(handle)
        except FileNotFoundError:
            return False
        try:
            self.codec.decode_into(raw, out)
        except (RuntimeError, ValueError, TypeError) as error:
            raise StoreError(
                f"{path}: chunk of date {date} cannot be decoded (corrupted): {error}"
            ) from None
        return True

    def _read_whole(self, handle) -> memoryview:
        """The file's bytes in a buffer reused by this thread (no allocation per read)."""
        size = os.fstat(handle.fileno()).st_size
        buffer = getattr(self._local, "buffer", None)
        if buffer is None or len(buffer) < size:
            buffer = self._local.buffer = bytearray(size)
        view = memoryview(buffer)[:size]
        handle.readinto(view)
        return view

    def _read_raw(self, handle, path: Path, out: np.ndarray) -> bool:
        size = handle.readinto(memoryview(out.reshape(-1).view(np.uint8)))
        if size != out.nbytes or handle.read(1):
            raise StoreError(f"{path}: chunk has the wrong size (corrupted)")
        return True

    def _read_inner(self, path: Path, date: int) -> bytes | None:
        shard = date // self.shard_dates
        with open(path, "rb") as handle:
            index = self._indexes.get(shard)
            if index is None:
                index = self._read_index(handle, path)
                self._indexes[shard] = index
            offset, size = index[date % self.shard_dates]
            if offset == _EMPTY:
                return None
            handle.seek(int(offset))
            return handle.read(int(size))

    def _read_index(self, handle, path: Path) -> np.ndarray:
        length = self.shard_dates * 16 + 4
        handle.seek(0, os.SEEK_END)
        if handle.tell() < length:
            raise StoreError(f"{path}: shard is too short to hold its index (corrupted)")
        handle.seek(-length, os.SEEK_END)
        encoded = handle.read(length)
        try:
            raw = numcodecs.CRC32C().decode(encoded)
        except RuntimeError as error:
            raise StoreError(
                f"{path}: shard index fails its checksum (corrupted): {error}"
            ) from None
        return np.frombuffer(raw, dtype="<u8").reshape(self.shard_dates, 2)

    def exists(self, date: int) -> bool:
        """Whether ``date`` was written (for shards: whether the index has an entry)."""
        path = self.file_path(date)
        if not path.is_file():
            return False
        if not self.sharded:
            return True
        with open(path, "rb") as handle:
            index = self._read_index(handle, path)
        return bool(index[date % self.shard_dates, 0] != _EMPTY)


def write_atomic(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` via a unique temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
    try:
        with open(temporary, "wb") as handle:
            handle.write(payload)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def content_checksum(values: np.ndarray) -> int:
    """CRC-32 of the little-endian float32 bytes of one date's fields ``[variable, ensemble, cell]``."""
    return zlib.crc32(np.ascontiguousarray(values, dtype="<f4").data) & 0xFFFFFFFF
