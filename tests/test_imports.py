"""The package's import graph: no circles, no project imports hidden inside functions.

An import circle, even one held shut by an import inside a function, means two modules each need
the other: a change to either can break both, and neither can be read alone. The test reads the
source (``ast``), so it sees every import, including those a run never reaches.
"""

from __future__ import annotations

import ast
from pathlib import Path

from dilpose import paths

PACKAGE = paths.REPO_ROOT / "dilpose"


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(module: str, is_package: bool, node: ast.ImportFrom | ast.Import) -> list[str]:
    """The project modules one import statement names (``from . import a, b`` names two)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "dilpose"]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target.split(".")[0] != "dilpose":
        return []
    # `from . import x` names the module x when x is one; otherwise names inside `target`
    children = [f"{target}.{a.name}" for a in node.names]
    return children + [target]


def _imports(modules: dict[str, Path]):
    """(module, imported module, line, inside a function?) for every project import."""
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        is_package = path.name == "__init__.py"
        in_function = set()
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                in_function.update(id(n) for n in ast.walk(fn) if n is not fn)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                targets = [t for t in _resolve(name, is_package, node) if t in modules]
                # a child named by `from pkg import child` is the edge, not pkg's __init__
                if len(targets) > 1:
                    targets = targets[:-1]
                for target in targets:
                    if target != name:
                        yield name, target, node.lineno, id(node) in in_function


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {m: set() for m in modules}
    for src, dst, _, _ in _imports(modules):
        graph[src].add(dst)
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_package_has_no_import_circles():
    assert _circles(_graph()) == []


def test_the_circle_finder_finds_a_circle():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _circles({"a": {"b"}, "b": set()}) == []


def test_no_project_import_hides_inside_a_function():
    """A lazy import is allowed only for a module that needs an optional dependency, and says so
    in a comment containing 'lazy' on its line or the line above."""
    modules = _modules()
    hidden = []
    for src, dst, line, inside in _imports(modules):
        if not inside:
            continue
        lines = modules[src].read_text().splitlines()
        context = " ".join(lines[max(0, line - 2) : line])
        if "lazy" not in context.lower():
            hidden.append(f"{src}:{line} imports {dst}")
    assert hidden == []
