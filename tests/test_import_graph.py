"""The package's import graph has no cycle: network at the bottom, io / ONNX export / training
on it, the MLP facade on top. Built from the sources with `ast`; imports inside functions count
too (only imports of other packages, such as onnx or matplotlib, may be made lazily)."""
from __future__ import annotations

import ast
import os
from typing import Dict, List, Set

import deltaprop

PACKAGE = os.path.dirname(os.path.abspath(deltaprop.__file__))


def _module_name(path: str) -> str:
    rel = os.path.relpath(path, PACKAGE)[:-3].replace(os.sep, ".")
    rel = rel[:-len(".__init__")] if rel.endswith(".__init__") else ("" if rel == "__init__" else rel)
    return "deltaprop" + ("." + rel if rel else "")


def _resolve(module: str, is_package: bool, level: int, target: str) -> str:
    """The absolute name of `from <level dots><target> import ...` inside `module`."""
    if level == 0:
        return target
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def import_graph() -> Dict[str, Set[str]]:
    modules = {}
    for root, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(root, name)
                modules[_module_name(path)] = path
            elif name.endswith((".so", ".pyd")):   # the compiled core: imports nothing of ours
                modules["deltaprop." + name.split(".")[0]] = None
    graph: Dict[str, Set[str]] = {}
    for module, path in modules.items():
        if path is None:
            graph[module] = set()
            continue
        is_package = path.endswith("__init__.py")
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), path)
        edges: Set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(module, is_package, node.level, node.module or "")
                # `from . import x` imports the submodule x when there is one
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            else:
                continue
            if _type_checking_only(tree, node):
                continue
            # a module's own packages are imported before it anyway: not an edge of its choosing
            edges.update(t for t in targets if t in modules and t != module and not module.startswith(t + "."))
        graph[module] = edges
    return graph


def _type_checking_only(tree: ast.AST, node: ast.AST) -> bool:
    """True for imports under `if TYPE_CHECKING:` (never run)."""
    for parent in ast.walk(tree):
        if isinstance(parent, ast.If) and getattr(parent.test, "id", None) == "TYPE_CHECKING":
            if any(child is node for stmt in parent.body for child in ast.walk(stmt)):
                return True
    return False


def find_cycle(graph: Dict[str, Set[str]]) -> List[str]:
    """One cycle as a list of modules (first == last), or [] when there is none."""
    state: Dict[str, int] = {}   # 1: on the current path, 2: done
    path: List[str] = []

    def visit(node: str) -> List[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = 2
        path.pop()
        return []

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return []


def test_the_package_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert not cycle, "import cycle: " + " -> ".join(cycle)


def test_the_checker_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_the_graph_has_the_intended_layers():
    graph = import_graph()
    assert "deltaprop.network" in graph["deltaprop.io"]
    assert "deltaprop.network" in graph["deltaprop.training.driver"]
    below_the_facade = ["deltaprop.network", "deltaprop.io", "deltaprop.onnx_export", "deltaprop.training.fit",
                        "deltaprop.training.driver", "deltaprop.training.state"]
    for module in below_the_facade:
        assert "deltaprop.model" not in graph[module], module
    core_users = {m for m, edges in graph.items() if "deltaprop._core" in edges}
    assert "deltaprop.model" not in core_users and "deltaprop.training.driver" not in core_users
