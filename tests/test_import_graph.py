"""Imports inside src/sisr run one way: no module imports one that imports it back, not even inside a function
(evaluation, metrics/perceptual and metrics/protocols used to import each other, one of them deferred)."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the sisr modules it imports, at module level or inside its functions."""
    modules = {_module_name(p): p for p in SRC.joinpath("sisr").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        targets: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets.add(node.module)
                targets.update(f"{node.module}.{a.name}" for a in node.names)
        graph[name] = {t for t in targets if t in modules and t != name}
        # importing a.b.c runs the package a.b first
        for t in list(graph[name]):
            parent = t.rsplit(".", 1)[0]
            while parent in modules and parent != name and not name.startswith(parent + "."):
                graph[name].add(parent)
                parent = parent.rsplit(".", 1)[0]
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycle_in_src_sisr():
    graph = import_graph()
    assert "sisr.metrics.registry" in graph and "sisr.evaluation" in graph
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_metrics_sit_below_the_evaluation():
    graph = import_graph()
    assert "sisr.pairing" in graph["sisr.metrics.perceptual"]  # pairing is below the metrics
    for module in ("sisr.metrics.basic", "sisr.metrics.standard", "sisr.metrics.perceptual",
                   "sisr.metrics.protocols", "sisr.pairing"):
        assert "sisr.evaluation" not in graph[module], module


def test_the_check_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
