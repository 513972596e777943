"""Tamper signals read from the learner's code itself, on the trusted side.

A kernel can be made to lie about itself, so signals that matter are taken from the source
the learner wrote: reaching for the reference or the grader, replacing library functions,
reaching into the interpreter's machinery, and redefining the given code of the notebook.
They are reported to the instructor; they never change a score (the verdicts already
ignore everything but what the learner's functions return).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from nbformat import NotebookNode

from .notebook import grade_id, is_answer_cell, is_locked, is_test_cell

#: Modules whose import from learner code is reported.
WATCHED_IMPORTS = ("attention_ref", "grader", "importlib", "ctypes", "builtins", "gc", "inspect",
                   "IPython", "nbformat", "nbclient", "jupyter_client", "zmq")
#: Names that reach into the interpreter or the notebook's own history.
WATCHED_NAMES = ("__builtins__", "__import__", "get_ipython", "_ih", "_oh", "In", "Out", "sys.modules",
                 "__loader__", "__spec__")
#: Calls that run code from a string.
WATCHED_CALLS = ("exec", "eval", "compile")
#: Modules whose attributes learner code must not replace.
PROTECTED_MODULES = ("np", "numpy", "builtins", "math", "sys", "os")


def _dotted(node) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def _bound_names(tree: ast.Module) -> set[str]:
    """Top-level names a cell defines or assigns (imports excluded)."""
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def given_names(source: NotebookNode) -> set[str]:
    """Names the source's locked code cells define: its given code (the setup's imports aside)."""
    names = set()
    for cell in source.cells:
        if cell.cell_type == "code" and is_locked(cell) and not is_test_cell(cell):
            try:
                names |= _bound_names(ast.parse(cell.source))
            except SyntaxError:
                continue
    return names


def _where(cell: NotebookNode, index: int, node: ast.AST) -> str:
    name = grade_id(cell) or cell.get("id") or f"cell {index + 1}"
    return f"{name}, line {getattr(node, 'lineno', '?')}"


def scan_cell(tree: ast.Module, protected: Iterable[str]) -> list[tuple[ast.AST, str]]:
    """(node, what) for each suspicious construct of one cell's code."""
    found = []
    protected = set(protected)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node, f"imports {a.name}") for a in node.names
                      if a.name.split(".")[0] in WATCHED_IMPORTS]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] in WATCHED_IMPORTS:
                found.append((node, f"imports from {node.module}"))
        elif isinstance(node, (ast.Name, ast.Attribute)) and _dotted(node) in WATCHED_NAMES:
            found.append((node, f"uses {_dotted(node)}"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in WATCHED_CALLS:
            found.append((node, f"calls {node.func.id}()"))
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = (node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target])
            for target in targets:
                dotted = _dotted(target)
                if isinstance(target, ast.Attribute) and dotted.split(".")[0] in PROTECTED_MODULES:
                    found.append((node, f"replaces {dotted}"))
    for name in sorted(_bound_names(tree) & protected):
        node = next(n for n in tree.body if name in _bound_names(ast.Module(body=[n], type_ignores=[])))
        found.append((node, f"redefines {name}, which the notebook gives (grading runs the given one)"))
    return found


def scan_notebook(nb: NotebookNode, source: NotebookNode) -> list[str]:
    """Tamper signals of the learner's code cells of a rebuilt notebook, one line each.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The rebuilt notebook (:func:`grader.runtime.notebook.rebuild_from_source`): its code
        cells that are not locked are the learner's.
    source : nbformat.NotebookNode
        The assignment's source (its given code).
    """
    protected = given_names(source)
    as_released = {c.source for c in source.cells}  # cells the learner left as they were
    signals = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or (is_locked(cell) and not is_answer_cell(cell)) \
                or cell.source in as_released:
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue  # nothing runs from it either
        for node, what in scan_cell(tree, protected):
            signals.append(f"{_where(cell, index, node)}: {what}")
    return list(dict.fromkeys(signals))
