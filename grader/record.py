"""The record a check leaves in a test cell's outputs: raw outputs, never a verdict.

Kernel-side and trusted side both import this module. Values are encoded
losslessly (arrays as .npy bytes) so that the verdict can be computed outside
the learner's kernel; anything that is not exactly a plain ndarray, tuple, list,
dict or Python/NumPy scalar is recorded only by its type, so an object that
lies about equality or an ndarray subclass fails at the type stage.
"""

from __future__ import annotations

import base64
import io

import numpy as np

#: MIME type of a check record in a cell's display_data output.
MIME = "application/vnd.attention-course.check+json"
#: Version of the record layout.
VERSION = 1

_SCALARS = (bool, int, float)


def encode(value, depth=0):
    """Encode a learner's return value as JSON-compatible data.

    Parameters
    ----------
    value : object
        What the learner's function returned.

    Returns
    -------
    dict
        ``{"t": kind, ...}`` with kind one of ndarray, tuple, list, dict,
        scalar, none or object.
    """
    kind = type(value)  # type(), not isinstance: subclasses and proxies are not arrays
    if kind is np.ndarray:
        if value.dtype.hasobject or value.dtype.kind not in "biufc":
            return {"t": "object", "type": f"numpy.ndarray of dtype {value.dtype}"}
        buffer = io.BytesIO()
        np.save(buffer, value, allow_pickle=False)
        return {"t": "ndarray", "npy": base64.b64encode(buffer.getvalue()).decode("ascii")}
    if depth < 4 and kind in (tuple, list):
        return {"t": kind.__name__, "items": [encode(item, depth + 1) for item in value]}
    if depth < 4 and kind is dict and all(type(k) is str for k in value):
        return {"t": "dict", "items": {k: encode(v, depth + 1) for k, v in value.items()}}
    if kind in _SCALARS or (isinstance(value, np.generic) and kind.__module__ == "numpy"):
        array = np.asarray(value)
        if array.dtype.kind in "biuf":
            return {"t": "scalar", "type": kind.__name__, "dtype": str(array.dtype),
                    "value": float(array)}
    if value is None:
        return {"t": "none"}
    return {"t": "object", "type": f"{kind.__module__}.{kind.__qualname__}"}


def decode(data):
    """Invert :func:`encode`: ndarrays, tuples, lists, dicts, scalars, or an :class:`Opaque`."""
    kind = data.get("t")
    if kind == "ndarray":
        raw = base64.b64decode(data["npy"])
        return np.load(io.BytesIO(raw), allow_pickle=False)
    if kind == "tuple":
        return tuple(decode(item) for item in data["items"])
    if kind == "list":
        return [decode(item) for item in data["items"]]
    if kind == "dict":
        return {k: decode(v) for k, v in data["items"].items()}
    if kind == "scalar":
        return np.dtype(data["dtype"]).type(data["value"])
    if kind == "none":
        return None
    return Opaque(str(data.get("type", "unknown")))


class Opaque:
    """Stands for a returned object that was not plain data (only its type is known)."""

    def __init__(self, type_name):
        self.type_name = type_name

    def __repr__(self):
        return f"<{self.type_name} object>"
