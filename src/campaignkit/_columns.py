"""Whole columns at once for `campaignkit.decide`: keys, content digests, cells' classes.

Each function gives, for every row, exactly what the per-row function it replaces gives
(``decisions.row_keys``' ``str(cell).strip()``, ``decisions.content_digest``), with Arrow
kernels for the common cells and the per-row function for any other cell, so the answers
never depend on which path a row took (tests/test_decide_equal.py).
"""

from __future__ import annotations

import binascii
import hashlib
import math
from collections.abc import Callable
from itertools import pairwise

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["codes", "digests", "empty_tuples", "null_like", "string_buffers", "strings", "stripped",
           "text_chunk"]

_NOTHING = np.empty((), dtype=object)
_NOTHING[()] = ()
_OPEN, _BETWEEN, _CLOSE, _NULL_TEXT, _NONE = (
    pa.scalar(part, pa.large_string())
    for part in ('["', '", "', '", [], null]', '", null, [], null]', ""))
#: rows hashed at a time (the rows' JSON is built a chunk at a time)
_CHUNK = 65_536


def codes(arr: pa.Array) -> np.ndarray:
    """Dictionary codes of a string array: equal strings get equal codes, numbered as they
    first appear (``pc.dictionary_encode``'s indices).

    When every string is a plus and 1 to 17 digits (every E.164 number), each is told apart
    by its digits as an integer and its length (leading zeros), which hash in a fraction of
    the time and memory of the text.
    """
    # Three plain kernels check the form in half the time of one regular expression.
    if len(arr) and not arr.null_count and pc.all(pc.starts_with(arr, "+")).as_py():
        digits = pc.utf8_slice_codeunits(arr, 1)
        if (pc.all(pc.ascii_is_decimal(digits)).as_py()  # "" is not decimal
                and pc.max(pc.binary_length(digits)).as_py() <= 17):
            value = np.asarray(pc.cast(digits, pa.int64()))
            del digits  # freed before factorize builds its hash table (a plan's peak memory)
            length = np.asarray(pc.binary_length(arr), dtype=np.int64)
            found: np.ndarray = pd.factorize(value * 32 + length)[0]
            return found
    return np.asarray(pc.dictionary_encode(arr).indices, dtype=np.int64)


def empty_tuples(values: np.ndarray) -> np.ndarray:
    """Which cells hold the empty tuple (``()``, the `problems` and ``media`` of most rows)."""
    try:
        return np.asarray(np.equal(values, _NOTHING), dtype=bool)
    except (TypeError, ValueError):  # cells that compare oddly (pd.NA, arrays): one by one
        return np.array([isinstance(v, tuple) and not v for v in values], dtype=bool)


def null_like(values: np.ndarray) -> np.ndarray:
    """Which cells are None or a float NaN (what the per-row code reads as missing).

    pandas' ``isna`` also says yes to ``pd.NA`` and ``NaT``, which ``str()`` and JSON spell
    out; those cells are answered no.
    """
    found = np.array(pd.isna(values), dtype=bool)
    if found.any():
        odd = set(map(type, values[found])) - {type(None), float}
        if odd:
            found &= np.array([v is None or (isinstance(v, float) and math.isnan(v))
                               for v in values], dtype=bool)
    return found


def strings(series: pd.Series) -> tuple[pa.Array, np.ndarray] | None:
    """A column as an Arrow string array (large or not, as stored), and where it is null.

    None when a cell is neither a string nor missing, or when a missing cell is ``pd.NA``
    (whose ``str()`` is ``"<NA>"``): the caller then goes row by row.
    """
    dtype = series.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.na_value is pd.NA and series.hasnans:
        return None
    try:
        arr = pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_null(arr.type):
        arr = pa.nulls(len(arr), pa.large_string())
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    null = np.asarray(arr.is_null(), dtype=bool)
    if null.any() and dtype.kind == "O" and not null_like(
            series.to_numpy(dtype=object)[null]).all():
        return None
    return arr, null


def stripped(arr: pa.Array, strip: Callable[[str], str]) -> pa.Array:
    """``strip`` of every string: Python's own strip, asked only where a string starts or
    ends with anything but printable ASCII (elsewhere it changes nothing)."""
    edge = _edges(arr)
    if not edge.any():
        return arr
    idx = np.flatnonzero(edge)
    fixed = [strip(v) for v in arr.take(pa.array(idx)).to_pylist()]
    values = np.full(len(arr), None, dtype=object)
    values[idx] = fixed
    return pc.coalesce(pa.array(values, arr.type), arr)


def string_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """A string or large_string array's offsets (``len(arr) + 1`` of them, into the data)
    and its data bytes, as views of its buffers; None when it has no rows or no data."""
    _, where, data = arr.buffers()
    if where is None or data is None or not len(arr):
        return None
    wide = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets: np.ndarray = np.frombuffer(where, dtype=wide)[arr.offset:arr.offset + len(arr) + 1]
    return offsets, np.frombuffer(data, dtype=np.uint8)


def _edges(arr: pa.Array) -> np.ndarray:
    """Which strings start or end with a byte outside printable ASCII (``!`` to ``~``): a
    space, a control or any non-ASCII character. Their first and last bytes, read from the
    buffers (a quarter of the time of the regular expression ``^[^!-~]|[^!-~]$``)."""
    out = np.zeros(len(arr), dtype=bool)
    found = string_buffers(arr)
    if found is None:
        return out
    offsets, raw = found
    full = offsets[1:] > offsets[:-1]
    if arr.null_count:
        full &= np.asarray(arr.is_valid(), dtype=bool)
    first, last = raw[offsets[:-1][full]], raw[offsets[1:][full] - 1]
    out[full] = (first < 0x21) | (first > 0x7E) | (last < 0x21) | (last > 0x7E)
    return out


def _escapes(arr: pa.Array) -> np.ndarray:
    """Which strings of a large_string array hold a byte ``json.dumps`` escapes (a control,
    ``"`` or ``\\``): one pass over the bytes (UTF-8 spells these bytes only as themselves)."""
    out = np.zeros(len(arr), dtype=bool)
    found = string_buffers(arr)
    if found is None:
        return out
    offsets, data = found
    raw = data[offsets[0]:offsets[-1]]
    hit = raw < 0x20
    hit |= raw == 0x22
    hit |= raw == 0x5C
    if hit.any():
        out[np.searchsorted(offsets, np.flatnonzero(hit) + offsets[0], side="right") - 1] = True
        if arr.null_count:
            out &= np.asarray(arr.is_valid(), dtype=bool)
    return out


def _escaped(arr: pa.Array, rows: np.ndarray) -> pa.Array:
    """``arr`` with ``"``, ``\\`` and ``\n`` escaped as ``json.dumps`` does, in ``rows`` only."""
    if not rows.any():
        return arr
    idx = np.flatnonzero(rows)
    part = arr.take(pa.array(idx))
    for old, new in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n")):
        part = pc.replace_substring(part, old, new)
    values = np.full(len(arr), None, dtype=object)
    values[idx] = part.to_pylist()
    return pc.coalesce(pa.array(values, arr.type), arr)


def text_chunk(series: pd.Series, start: int, stop: int) -> tuple[pa.Array, np.ndarray] | None:
    """Rows ``start:stop`` of a text column as Arrow strings, and where they are missing.

    An Arrow-backed column is sliced as it is; an object column (what `render` gives) is
    converted a chunk at a time, so the whole text never exists twice. None when a cell is
    neither a string nor missing, or missing as ``pd.NA`` (whose ``str()`` is ``"<NA>"``).
    """
    dtype = series.dtype
    # Arrow-backed strings say kind "O" too: converting them to objects took 16 times the
    # whole column (about 2 s on the largest sheet)
    objects = dtype.kind == "O" and not isinstance(dtype, pd.StringDtype | pd.ArrowDtype)
    try:
        if objects:
            values = series.to_numpy(dtype=object)[start:stop]
            arr = pa.array(values, type=pa.large_string(), from_pandas=True)
        else:
            arr = pa.array(series.iloc[start:stop], from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    null = np.asarray(arr.is_null(), dtype=bool)
    if null.any():
        if objects:
            if not null_like(values[null]).all():
                return None
        elif not (isinstance(dtype, pd.StringDtype) and dtype.na_value is not pd.NA):
            return None  # missing as pd.NA
    return arr, null


def digests(to: pa.Array, text: pd.Series | None, simple: np.ndarray,
            digest: Callable[[int], str]) -> pa.Array:
    """``content_digest`` of every row: sha256 of ``json.dumps([to, text, [], null])``.

    ``to`` holds strings; ``text`` is the text column (None when there is none); ``simple``
    marks the rows whose media is ``()`` and template missing, the only rows built here;
    ``digest(position)`` gives any other row's digest the per-row way. The result is a
    large_string array (what pandas' ``str`` dtype stores), built without a Python string a
    row, a chunk of rows at a time.
    """
    n = len(to)
    slow = ~simple
    hexed = bytearray(64 * n)  # each row's digest in hex, 64 bytes a row
    sha = hashlib.sha256

    def blobs_of(start: int) -> tuple[list[int], bytes]:
        """Rows ``start`` to ``start + _CHUNK``: each row's JSON, end to end, and the
        offsets of each row's JSON in it."""
        stop = min(start + _CHUNK, n)
        to_part = to[start:stop].cast(pa.large_string())
        found = text_chunk(text, start, stop) if text is not None else None
        if found is None:
            text_part = pa.nulls(stop - start, pa.large_string())
            if text is not None:
                slow[start:stop] = True
        else:
            text_part = found[0].cast(pa.large_string())
        parts = []
        for column in (to_part, text_part):
            escape = _escapes(column)
            if escape.any():  # a control other than a newline: row by row
                slow[start:stop] |= escape & np.asarray(pc.match_substring_regex(
                    column, r"[\x00-\x09\x0b-\x1f]").fill_null(False))
            parts.append(_escaped(column, escape & ~slow[start:stop]))
        # Each row's JSON in one buffer; a missing text (null) is written by a second join.
        blobs = pc.binary_join_element_wise(_OPEN, parts[0], _BETWEEN, parts[1], _CLOSE, _NONE)
        if text_part.null_count:
            blobs = pc.coalesce(blobs, pc.binary_join_element_wise(
                _OPEN, parts[0], _NULL_TEXT, _NONE))
        blobs = blobs.cast(pa.large_binary())
        offsets = np.frombuffer(blobs.buffers()[1], dtype=np.int64)[
            blobs.offset:blobs.offset + len(blobs) + 1].tolist()
        return offsets, blobs.buffers()[2].to_pybytes() if len(blobs) else b""

    for start in range(0, n, _CHUNK):  # a chunk at a time: the JSON never all in memory
        offsets, data = blobs_of(start)
        # One sha256 a row is the floor (no Arrow kernel hashes); the rest is array work.
        hexed[64 * start:64 * min(start + _CHUNK, n)] = binascii.hexlify(b"".join(
            [sha(data[a:b]).digest() for a, b in pairwise(offsets)]))
    for i in np.flatnonzero(slow).tolist():
        hexed[64 * i:64 * i + 64] = digest(i).encode()
    return pa.Array.from_buffers(
        pa.large_string(), n,
        [None, pa.py_buffer(np.arange(0, 64 * n + 1, 64, dtype=np.int64)), pa.py_buffer(hexed)])
