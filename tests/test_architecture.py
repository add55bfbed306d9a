"""The package's structure: no import cycle between its modules, small modules, and policies that
live in one place (docs/architecture.md)."""

import ast
import pathlib
import re

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "fastseq"
# "about 400 lines": a module that grows past this should be split by job
MAX_MODULE_LINES = 450


def module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph():
    """module -> the package modules it imports (at the top or inside functions)."""
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[:len(package.split(".")) - node.level + 1]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                found = [module] + [f"{module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            else:
                continue
            # a submodule importing its own package (``from .. import _backend``) is not an edge
            targets |= {t for t in found if t in paths and not name.startswith(t + ".")
                        and t != name}
        graph[name] = targets
    return graph


def find_cycle(graph):
    """One import cycle as a list of modules, or None."""
    state = {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt, stack)
                if cycle:
                    return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node, [])
            if cycle:
                return cycle
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle():
    graph = import_graph()
    assert "fastseq.cluster._engine" in graph["fastseq.cluster._distances"]
    assert find_cycle(graph) is None


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: module_name(p))
def test_module_is_small(path):
    n = len(path.read_text().splitlines())
    assert n <= MAX_MODULE_LINES, f"{path.name} has {n} lines; split it by job"


SHARED_POLICIES = {
    "FASTMATH": r"^FASTMATH\s*=",
    "GATES": r"^GATES\s*=",
    "GPU_WORKING_MEMORY_MIB": r"^GPU_WORKING_MEMORY_MIB\s*=",
    "MAX_SLOTS": r"^MAX_SLOTS\s*=",
    "check_random_state": r"^def check_random_state\(",
    "to_host": r"^def to_host\(",
}


@pytest.mark.parametrize("policy", sorted(SHARED_POLICIES))
def test_policy_defined_once(policy):
    where = [p.name for p in PACKAGE.rglob("*.py")
             if re.search(SHARED_POLICIES[policy], p.read_text(), re.MULTILINE)]
    assert len(where) == 1, f"{policy} is defined in {where}"
