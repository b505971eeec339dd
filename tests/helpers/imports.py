"""The import graph of src/sisr (module-level and deferred imports alike), its cycle check, and the imports that
sit inside functions."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sisr_modules() -> dict[str, Path]:
    """module name -> file, for every module of src/sisr."""
    return {_module_name(p): p for p in sorted(SRC.joinpath("sisr").rglob("*.py"))}


def import_graph() -> dict[str, set[str]]:
    """module -> the sisr modules it imports, at module level or inside its functions."""
    modules = sisr_modules()
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


def function_imports(path: Path) -> list[tuple[int, str]]:
    """(line number, source line) of each ``import`` / ``from ... import`` inside a function or method body of
    ``path`` (nested functions included; the line is the statement's first)."""
    text = path.read_text()
    lines = text.splitlines()
    found: set[int] = set()
    for func in ast.walk(ast.parse(text)):
        if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            found.update(n.lineno for n in ast.walk(func) if isinstance(n, (ast.Import, ast.ImportFrom)))
    return [(n, lines[n - 1]) for n in sorted(found)]


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
