"""The library's layers, lowest first: a module imports only modules of its own layer or of a lower one, at module
level or inside a function (tests/test_import_graph.py builds the graph, deferred imports included). A new module
must be placed in a layer here; the README's "Layers" (docs/ARCHITECTURE.md) lists the same table.
"""

import pytest

from helpers.imports import import_graph

# layer -> module names or package prefixes (a prefix ending in "." covers the package's modules)
LAYERS = {
    "base": ["sisr", "sisr.errors", "sisr.io", "sisr.device", "sisr.colour", "sisr.hashing", "sisr.paths", "sisr.banded",
             "sisr.imresize", "sisr.suggest", "sisr.provenance", "sisr.interrupt", "sisr.finish", "sisr.cluster",
             "sisr.tensorboard", "sisr.published", "sisr.__main__"],
    "data": ["sisr.data", "sisr.data.", "sisr.degradations", "sisr.degradations.", "sisr.weights", "sisr.pairing"],
    "metrics": ["sisr.metrics", "sisr.metrics."],
    "models": ["sisr.models", "sisr.models.", "sisr.loss_terms", "sisr.losses"],
    "training": ["sisr.training", "sisr.training.", "sisr.inference"],
    "evaluation": ["sisr.evaluation"],
    "config": ["sisr.studies", "sisr.catalog", "sisr.job_settings", "sisr.plan", "sisr.calibrate"],
    "report": ["sisr.tables", "sisr.audit", "sisr.figures", "sisr.leaderboard", "sisr.report_html"],
    "workflow": ["sisr.jobs"],
    "cli": ["sisr.cli"],
}
ORDER = list(LAYERS)
# Imports that run up a layer on purpose, each with its reason (none today).
ALLOWED_UP: dict[tuple[str, str], str] = {
    ("sisr.__main__", "sisr.cli"): "python -m sisr runs the command line",
}


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
    graph = {"sisr.io": {"sisr.tables"}, "sisr.tables": {"sisr.io"}}
    assert upward_imports(graph) == ["sisr.io (base) imports sisr.tables (report)"]
    with pytest.raises(AssertionError, match="in no layer"):
        layer_of("sisr.newmodule")
