"""Loss terms of a study file as data: names, options, defaults and their validation (no torch).

The workflow validates every run's ``loss`` while it plans the jobs (nothing heavy is imported then);
``sisr.training.losses`` builds the torch modules from these terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from sisr.base.errors import ConfigError

# Per-term options and their defaults; "name" and "weight" are common to all terms.
TERM_OPTIONS: dict[str, dict[str, Any]] = {
    "l1": {},
    "mse": {},
    "charbonnier": {"eps": 1e-3},
    "perceptual": {"layer": "conv5_4", "criterion": "l1"},
    "lpips": {"net": "vgg"},
    "adversarial": {},
}


def _vgg19_layer_index() -> dict[str, int]:
    """``conv1_1`` -> 0, ``relu1_1`` -> 1, ... ``relu5_4`` -> 35: positions in torchvision's ``vgg19().features``."""
    index, position = {}, 0
    for block, convs in enumerate((2, 2, 4, 4, 4), start=1):
        for k in range(1, convs + 1):
            index[f"conv{block}_{k}"] = position
            index[f"relu{block}_{k}"] = position + 1
            position += 2
        position += 1  # the max-pool closing the block
    return index


VGG19_LAYERS: dict[str, int] = _vgg19_layer_index()
FEATURE_CRITERION_NAMES = ("l1", "mse", "squared_l2")  # sisr.training.losses.FEATURE_CRITERIA


@dataclass(frozen=True)
class LossTerm:
    """One validated loss term. ``options`` holds the term's own options with defaults filled in."""

    name: str
    weight: float
    options: tuple[tuple[str, Any], ...] = ()

    def option(self, key: str) -> Any:
        return dict(self.options)[key]

    def to_dict(self) -> dict[str, Any]:
        """The term as a study file would write it (defaults resolved)."""
        return {"name": self.name, "weight": self.weight, **dict(self.options)}


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        hint = " (YAML reads 1e-3 as text: write 1.0e-3)" if isinstance(value, str) else ""
        raise ConfigError(f"{where}: expected a number, got {type(value).__name__} {value!r}{hint}")
    return float(value)


def parse_term(data: Any, where: str = "loss[0]") -> LossTerm:
    """Validate one ``{name, weight, ...}`` mapping; errors name the key path (``where``)."""
    if isinstance(data, LossTerm):
        return data
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping like {{name: l1, weight: 1.0}}, got {data!r}")
    name = data.get("name")
    if name not in TERM_OPTIONS:
        raise ConfigError(f"{where}.name: expected one of {', '.join(TERM_OPTIONS)}, got {name!r}")
    defaults = TERM_OPTIONS[name]
    unknown = sorted(set(data) - {"name", "weight", *defaults})
    if unknown:
        valid = ", ".join(["name", "weight", *defaults])
        raise ConfigError(f"{where}: unknown key(s) {unknown} for loss {name!r}; valid keys: {valid}")
    weight = _number(data.get("weight", 1.0), f"{where}.weight")
    if weight < 0:
        raise ConfigError(f"{where}.weight: expected >= 0, got {weight}")
    options = {**defaults, **{k: v for k, v in data.items() if k in defaults}}
    if name == "charbonnier":
        options["eps"] = _number(options["eps"], f"{where}.eps")
        if options["eps"] <= 0:
            raise ConfigError(f"{where}.eps: expected > 0, got {options['eps']}")
    if name == "perceptual":
        if options["layer"] not in VGG19_LAYERS:
            raise ConfigError(f"{where}.layer: expected a VGG19 layer conv1_1..conv5_4 or relu1_1..relu5_4, "
                              f"got {options['layer']!r}")
        if options["criterion"] not in FEATURE_CRITERION_NAMES:
            raise ConfigError(f"{where}.criterion: expected {', '.join(FEATURE_CRITERION_NAMES)}, "
                              f"got {options['criterion']!r}")
    if name == "lpips" and options["net"] not in ("vgg", "alex"):
        raise ConfigError(f"{where}.net: expected vgg or alex, got {options['net']!r}")
    return LossTerm(name=name, weight=weight, options=tuple(options.items()))


def parse_terms(terms: Any, where: str = "loss") -> tuple[LossTerm, ...]:
    """Validate a non-empty list of loss terms (see the module docstring)."""
    if isinstance(terms, (str, bytes)) or not isinstance(terms, Sequence) or len(terms) == 0:
        raise ConfigError(f"{where}: expected a non-empty list of {{name, weight}} terms, got {terms!r}")
    return tuple(parse_term(term, f"{where}[{i}]") for i, term in enumerate(terms))


LPIPS_TRUNKS = {"vgg": "vgg16", "alex": "alexnet"}  # the lpips term's net -> its pretrained trunk


def weights_needed(terms: Sequence[Mapping[str, Any]]) -> list[str]:
    """The pretrained files (keys of ``sisr.data.weights.WEIGHTS``) a run's loss terms load, each once."""
    needed = []
    for term in terms:
        if term.get("name") == "perceptual":
            needed.append("vgg19")
        elif term.get("name") == "lpips":
            needed.append(LPIPS_TRUNKS[term.get("net", TERM_OPTIONS["lpips"]["net"])])
    return list(dict.fromkeys(needed))
