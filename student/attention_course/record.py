"""Lossless JSON encoding of check inputs and of what a learner's function returned.

A check's inputs travel as data (public cases inside this package, hidden cases in a file
the grader writes), and a grading kernel's outputs travel back as a *record* in a test
cell's outputs: raw values, never a verdict. Values are encoded
losslessly (arrays as .npy bytes) so that the verdict can be computed outside
the learner's kernel; anything that is not exactly a plain ndarray, tuple, list,
dict or Python/NumPy scalar is recorded only by its type, so an object that
lies about equality or an ndarray subclass fails at the type stage.
"""

from __future__ import annotations

import base64
import io

import numpy as np

from .functions import ScalarFunction

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
    if kind is str:
        return {"t": "str", "value": value[:1000]}
    if kind is ScalarFunction:
        return {"t": "function", "kind": value.kind, "params": encode(dict(value.params), depth + 1)}
    return {"t": "object", "type": f"{kind.__module__}.{kind.__qualname__}"}


def decode(data, as_input=False):
    """Invert :func:`encode`.

    Parameters
    ----------
    data : dict
        What :func:`encode` returned.
    as_input : bool, default False
        Decode a check's *input*: scalars become the Python ``int``, ``float`` or ``bool``
        they were and test functions are rebuilt. Otherwise (a learner's output) scalars
        stay NumPy scalars and anything else is an :class:`Opaque`.

    Returns
    -------
    ndarray, tuple, list, dict, scalar, str, None, ScalarFunction or Opaque
    """
    kind = data.get("t")
    if kind == "ndarray":
        raw = base64.b64decode(data["npy"])
        return np.load(io.BytesIO(raw), allow_pickle=False)
    if kind == "tuple":
        return tuple(decode(item, as_input) for item in data["items"])
    if kind == "list":
        return [decode(item, as_input) for item in data["items"]]
    if kind == "dict":
        return {str(k): decode(v, as_input) for k, v in data["items"].items()}
    if kind == "scalar":
        value = np.dtype(data["dtype"]).type(data["value"])
        python = {"int": int, "float": float, "bool": bool}.get(data.get("type"))
        return python(value) if as_input and python else value
    if kind == "none":
        return None
    if kind == "str":
        return str(data["value"])
    if kind == "function" and as_input:
        return ScalarFunction(data["kind"], decode(data["params"], as_input=True))
    return Opaque(str(data.get("type", kind or "unknown")))


class Opaque:
    """Stands for a returned object that was not plain data (only its type is known)."""

    def __init__(self, type_name):
        self.type_name = type_name

    def __repr__(self):
        return f"<{self.type_name} object>"
