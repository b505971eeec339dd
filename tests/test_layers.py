"""The library's layers, lowest first: a module imports only modules of its own layer or of a lower one, at module
level or inside a function (tests/test_import_graph.py builds the graph, deferred imports included). A new module
must be placed in a layer here; docs/ARCHITECTURE.md ("Layout") lists the same packages.

Imports sit at the top of a module; one inside a function (deferred) says why on its line,
``# deferred: <reason, three words or more>`` (a heavy or optional package that a light caller must not load).
"""

import ast
import re
from pathlib import Path

import pytest

from helpers.imports import SRC, function_imports, import_graph, sisr_modules

# layer -> module names or package prefixes (a prefix ending in "." covers the package's modules)
LAYERS = {
    "base": ["sisr", "sisr.base", "sisr.base."],
    "data": ["sisr.data", "sisr.data.", "sisr.degradations", "sisr.degradations."],
    "metrics": ["sisr.metrics", "sisr.metrics."],
    "models": ["sisr.models", "sisr.models."],
    "training": ["sisr.training", "sisr.training."],
    "evaluation": ["sisr.evaluation"],
    "config": ["sisr.config", "sisr.config."],
    "report": ["sisr.report", "sisr.report."],
    "workflow": ["sisr.workflow", "sisr.workflow."],
    "cli": ["sisr.cli", "sisr.__main__"],
}
ORDER = list(LAYERS)
# Imports that run up a layer on purpose, each with its reason (none today).
ALLOWED_UP: dict[tuple[str, str], str] = {}


def layer_of(module: str) -> str:
    best = None
    for layer, names in LAYERS.items():
        for name in names:
            if module == name or (name.endswith(".") and module.startswith(name)):
                if best is None or len(name) > len(best[1]):
                    best = (layer, name)
    if best is None:
        raise AssertionError(f"{module}: in no layer of tests/test_layers.py; place it in one")
    return best[0]


def upward_imports(graph) -> list[str]:
    out = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            if (module, target) in ALLOWED_UP or target == "sisr":
                continue
            if ORDER.index(layer_of(target)) > ORDER.index(layer_of(module)):
                out.append(f"{module} ({layer_of(module)}) imports {target} ({layer_of(target)})")
    return out


def test_every_module_has_a_layer():
    for module in import_graph():
        layer_of(module)


def test_no_import_runs_up_a_layer():
    assert upward_imports(import_graph()) == []


def test_the_check_finds_an_upward_import():
    graph = {"sisr.base.io": {"sisr.report.tables"}, "sisr.report.tables": {"sisr.base.io"}}
    assert upward_imports(graph) == ["sisr.base.io (base) imports sisr.report.tables (report)"]
    with pytest.raises(AssertionError, match="in no layer"):
        layer_of("sisr.newmodule")


def test_the_report_tables_import_one_way():
    """Within sisr.report: rendering builds on table building, which builds on aggregation, never back."""
    graph = import_graph()
    assert "sisr.report.aggregate" in graph["sisr.report.tables"]
    assert "sisr.report.tables" in graph["sisr.report.render"]
    assert not {"sisr.report.tables", "sisr.report.render"} & graph["sisr.report.aggregate"]
    assert "sisr.report.render" not in graph["sisr.report.tables"]


DEFERRED_REASON = re.compile(r"#\s*deferred:\s*\S+(\s+\S+){2,}")
# Files being changed elsewhere at the time the rule came in (issue 21): their deferred imports get their reasons
# there; remove an entry once its file passes.
REASONS_PENDING: set[str] = set()


def unexplained_imports(files: list[Path], root: Path) -> list[str]:
    """``file:line: import`` for each import inside a function of ``files`` whose line has no deferred reason."""
    return [f"{path.relative_to(root)}:{n}: {line.strip()}" for path in files
            for n, line in function_imports(path) if not DEFERRED_REASON.search(line)]


def test_every_import_inside_a_function_says_why():
    files = [p for p in sisr_modules().values() if p.relative_to(SRC).as_posix() not in REASONS_PENDING]
    bad = unexplained_imports(files, SRC)
    assert bad == [], f"{len(bad)} imports inside functions without '# deferred: <reason>':\n" + "\n".join(bad)


def test_the_check_finds_an_unexplained_import(tmp_path):
    (tmp_path / "m.py").write_text(
        "import os\n"
        "def f():\n"
        "    import json\n"
        "    import torch  # deferred: torch; the dry run must not import it\n"
        "    import yaml  # deferred: heavy\n"
        "    def g():\n"
        "        from pathlib import Path\n"
        "class C:\n"
        "    import re\n"
        "    def h(self):\n"
        "        if True:\n"
        "            from sisr import x  # a comment, not a reason\n")
    assert unexplained_imports([tmp_path / "m.py"], tmp_path) == [
        "m.py:3: import json", "m.py:5: import yaml  # deferred: heavy", "m.py:7: from pathlib import Path",
        "m.py:12: from sisr import x  # a comment, not a reason"]


MAX_FUNCTION_LINES = 80  # issue 21: a unit a reader can hold in view (engine._train was 333 lines)


def long_functions(files: list[Path], root: Path, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """``file:line name (N lines)`` of each function or method in ``files`` longer than ``limit`` lines."""
    found = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > limit:
                    found.append(f"{path.relative_to(root)}:{node.lineno} {node.name} ({n} lines)")
    return found


def test_no_function_in_the_library_is_over_80_lines():
    bad = long_functions(list(sisr_modules().values()), SRC)
    assert bad == [], "functions over 80 lines (split them into named steps):\n" + "\n".join(bad)


def test_the_length_check_finds_a_long_function(tmp_path):
    (tmp_path / "m.py").write_text("def short():\n    pass\n\n\ndef long():\n" + "    x = 1\n" * 80)
    assert long_functions([tmp_path / "m.py"], tmp_path) == ["m.py:5 long (81 lines)"]
