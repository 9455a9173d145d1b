"""The code the notebooks write is the package's code.

A code cell whose first line is ``#@save <dotted path>`` writes package code:
every function (or class) defined at the top of that cell must exist at that
path, with the same name, arguments, decorators and body (docstrings aside).
The path names a class (the cell's functions are its methods), a module, or a
function (the cell's functions are defined inside it, as in
``chat_lib.tutorial.create_tutorial_app``). The notebook's own
``@add_to_class(...)`` decorator, which attaches a function to a running
server's class, is not part of the comparison.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import textwrap
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
MARK = "#@save "


def saved_definitions() -> list[tuple[str, str, str, ast.AST]]:
    """(notebook, target path, name, definition) for each definition in a #@save cell."""
    found = []
    for notebook in NOTEBOOKS:
        for cell in json.loads(notebook.read_text())["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] != "code" or not source.startswith(MARK):
                continue
            target = source.splitlines()[0][len(MARK):].strip()
            for node in ast.parse(source).body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    found.append((notebook.name, target, node.name, node))
    return found


def resolve(path: str) -> object:
    """The object at a dotted path such as ``chat_lib.server.people.People``."""
    parts = path.split(".")
    for split in range(len(parts), 0, -1):
        try:
            thing = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[split:]:
            thing = getattr(thing, attribute)
        return thing
    raise ImportError(path)


def package_twin(target: str, name: str) -> ast.AST:
    owner = resolve(target)
    if inspect.isfunction(owner):  # defined inside it
        tree = ast.parse(textwrap.dedent(inspect.getsource(owner)))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
                return node
        raise LookupError(f"{target} defines no {name}")
    member = inspect.getattr_static(owner, name)
    if inspect.isclass(owner) and name not in vars(owner):
        raise LookupError(f"{target} itself defines no {name}")
    return ast.parse(textwrap.dedent(inspect.getsource(member))).body[0]


def normalised(node: ast.AST) -> str:
    """The definition without docstrings and without the notebook's add_to_class decorator."""
    node = ast.parse(ast.unparse(node)).body[0]  # a copy
    for each in ast.walk(node):
        if isinstance(each, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = each.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(
                body[0].value.value, str
            ):
                each.body = body[1:] or [ast.Pass()]
            each.decorator_list = [
                d for d in each.decorator_list
                if not (isinstance(d, ast.Call) and getattr(d.func, "id", "") == "add_to_class")
            ]
    return ast.dump(node, include_attributes=False)


DEFINITIONS = saved_definitions()


@pytest.mark.parametrize(
    ("notebook", "target", "name", "node"), DEFINITIONS, ids=[f"{nb}:{target}.{name}" for nb, target, name, _ in DEFINITIONS]
)
def test_notebook_definition_is_the_package_code(notebook, target, name, node):
    twin = package_twin(target, name)
    assert normalised(node) == normalised(twin), (
        f"{notebook} defines {name} differently from {target}.{name}: change both, or neither.\n"
        f"--- notebook\n{ast.unparse(node)}\n--- package\n{ast.unparse(twin)}"
    )


def test_the_notebooks_write_the_server():
    """At least eight package definitions, covering at least six events."""
    names = {name for _, _, name, _ in DEFINITIONS}
    handlers = {name for name in names if name.startswith("on_")}
    assert len(names) >= 8, sorted(names)
    assert len(handlers) >= 6, sorted(handlers)


def test_a_drifted_definition_is_caught():
    """The comparison is not blind: a one-token change to a handler fails it."""
    from chat_lib.server.people import People

    source = textwrap.dedent(inspect.getsource(People.on_typing))
    drifted = ast.parse(source.replace("skip_sid=member.sid", "to=member.sid")).body[0]
    assert normalised(drifted) != normalised(package_twin("chat_lib.server.people.People", "on_typing"))
    same = ast.parse('@add_to_class(Chat)\n' + source.replace('):\n', '):\n    """A docstring."""\n', 1)).body[0]
    assert normalised(same) == normalised(package_twin("chat_lib.server.people.People", "on_typing"))
