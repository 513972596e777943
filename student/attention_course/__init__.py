"""The attention course's student package: what a learner's notebook imports.

- :func:`check` — the public check of an exercise: ``check("softmax", softmax)`` names the
  case that fails and the likely mistake;
- :func:`attention_map`, :func:`attention_heads`, :class:`when_implemented` — plots of what
  your own functions compute;
- :func:`attention_explorer`, :func:`multi_head_explorer` — sliders and toggles that redraw
  your attention function's map.

It holds no reference implementation and no hidden test: the public checks judge against
expected values computed when the course was released and shipped as data. The hidden
checks run when a notebook is graded (``python -m grader check`` for self-paced learners).
"""

import importlib

#: Where each public name lives; modules are imported on first use, so that importing a part
#: (``attention_course.record``, say) does not import matplotlib.
_EXPORTS = {"check": "checks", "attention_explorer": "explorer", "multi_head_explorer": "explorer",
            "attention_map": "plot", "attention_heads": "plot", "when_implemented": "plot"}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
