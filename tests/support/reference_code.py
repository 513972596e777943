"""Find the reference implementation's code in other files by its content, whatever the file is called.

Every function of ``attention_ref`` is reduced to its body (docstring dropped) in two forms:
the AST as it is (``ast.dump``, which ignores layout and comments) and the same with every
local name replaced by its order of appearance (so that renaming variables does not hide a
copy). A file holds reference code when Python code found in it — the file itself, or any
string of a JSON file, where code could be smuggled as data — defines a function whose body
has either form of a reference body, or when its text holds the text of a reference body
(spaces removed). Bodies too small to mean a copy (``return x``) are left out.
"""

from __future__ import annotations

import ast
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "attention_ref"
#: Bodies with fewer AST nodes than this are too common to tell a copy.
MIN_NODES = 12
#: Body texts (spaces removed) shorter than this are too common to tell a copy.
MIN_TEXT = 80


class _Renamer(ast.NodeTransformer):
    """Replace every name and argument by ``v<order of first appearance>``."""

    def __init__(self):
        self.names = {}

    def _new(self, name):
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node):
        return ast.copy_location(ast.Name(id=self._new(node.id), ctx=node.ctx), node)

    def visit_arg(self, node):
        node.arg = self._new(node.arg)
        node.annotation = None
        return node


def _body(function):
    body = list(function.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    return body


def _forms(function):
    """The two normalised forms of a function's body (as it is, and with local names renamed)."""
    body = ast.Module(body=_body(function), type_ignores=[])
    renamer = _Renamer()
    arguments = function.args
    for arg in [*arguments.posonlyargs, *arguments.args, arguments.vararg, *arguments.kwonlyargs,
                arguments.kwarg]:
        if arg is not None:
            renamer._new(arg.arg)  # the parameters are named first, in order
    return ast.dump(body), ast.dump(renamer.visit(ast.parse(ast.unparse(body))))


def _functions(tree):
    return [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]


def _size(function):
    return sum(1 for statement in _body(function) for _ in ast.walk(statement))


def _squeezed(text):
    return "".join(text.split())


@dataclass(frozen=True)
class ReferenceBodies:
    """The reference's function bodies: normalised form -> "module.function", and their texts."""

    forms: dict[str, str]
    texts: dict[str, str]


def reference_bodies(folder: Path = REFERENCE) -> ReferenceBodies:
    """Every function body of the reference package (large enough to tell a copy)."""
    forms, texts = {}, {}
    for path in sorted(folder.glob("*.py")):
        source = path.read_text()
        for function in _functions(ast.parse(source)):
            if _size(function) < MIN_NODES:
                continue
            label = f"{path.stem}.{function.name}"
            for form in _forms(function):
                forms[form] = label
            body = _body(function)
            text = _squeezed("\n".join(ast.get_source_segment(source, s) or "" for s in body))
            if len(text) >= MIN_TEXT:
                texts[text] = label
    return ReferenceBodies(forms, texts)


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def python_in(name: str, data: bytes) -> list[str]:
    """The Python sources a file may hold: its text, and every string of a JSON file."""
    text = data.decode("utf-8", errors="ignore")
    found = [text]
    if name.endswith(".json"):
        try:
            found += list(_strings(json.loads(text)))
        except ValueError:
            pass
    return found


def findings_in(name: str, data: bytes, reference: ReferenceBodies) -> list[str]:
    """Where a file holds reference code: one line per copied function."""
    found = []
    squeezed = _squeezed(data.decode("utf-8", errors="ignore"))
    for text, label in reference.texts.items():
        if text in squeezed:
            found.append(f"{name}: the text of {label}")
    for source in python_in(name, data):
        if "def " not in source:
            continue
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue
        for function in _functions(tree):
            for form in _forms(function):
                if form in reference.forms:
                    found.append(f"{name}: {function.name} has the body of {reference.forms[form]}")
                    break
    return sorted(set(found))


def reference_code_in_wheel(wheel: Path, reference: ReferenceBodies | None = None) -> list[str]:
    """Every file of a wheel (a zip) that holds reference code, one line per finding."""
    reference = reference or reference_bodies()
    found = []
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            if not info.is_dir():
                found += findings_in(info.filename, archive.read(info), reference)
    return found
