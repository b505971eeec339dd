"""Imports inside src/sisr run one way: no module imports one that imports it back, not even inside a function
(evaluation, metrics/perceptual and metrics/protocols used to import each other, one of them deferred)."""

from helpers.imports import find_cycle, import_graph


def test_no_import_cycle_in_src_sisr():
    graph = import_graph()
    assert "sisr.metrics.registry" in graph and "sisr.evaluation" in graph
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_metrics_sit_below_the_evaluation():
    graph = import_graph()
    assert "sisr.base.pairing" in graph["sisr.metrics.perceptual"]  # pairing is below the metrics
    for module in ("sisr.metrics.basic", "sisr.metrics.standard", "sisr.metrics.perceptual",
                   "sisr.metrics.protocols", "sisr.base.pairing"):
        assert "sisr.evaluation" not in graph[module], module


def test_the_check_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
