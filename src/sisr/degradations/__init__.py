"""LR degradations by name: how an LR image is made from an HR image.

Each degradation is one file of this package that defines ``DEGRADATION`` (a :class:`Degradation`: name,
one-line description, deterministic or not, and the function ``(hr, scale, rng) -> (lr, hr_crop)``), and one
:func:`register` line below. ``bicubic`` is the default everywhere an LR is made from an HR (datasets without
shipped LR, caches, evaluation of a model, figures); upscaling baselines (``sisr.models``) are not degradations.

    lr, hr_crop = get("bd")(hr, 3, seed=0, image="baby")
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from sisr.degradations.spec import Degradation, image_rng
from sisr.base.errors import ConfigError, SisrError

__all__ = ["DEFAULT", "REGISTRY", "Degradation", "check_name", "degrade", "get", "image_rng", "names", "register",
           "register_modules"]

DEFAULT = "bicubic"
REGISTRY: dict[str, Degradation] = {}


def register(target: str | Degradation) -> Degradation:
    """Add a degradation: a :class:`Degradation`, or the dotted name of a module that defines ``DEGRADATION``.

    A name registered twice with a different record is an error (registering the same record again is not)."""
    if isinstance(target, str):
        degradation = getattr(_import(target), "DEGRADATION", None)
        if not isinstance(degradation, Degradation):
            raise SisrError(f"{target}: expected a module defining DEGRADATION = Degradation(...)")
    else:
        degradation = target
    known = REGISTRY.get(degradation.name)
    if known is not None and known != degradation:
        raise SisrError(f"degradation {degradation.name!r} is already registered ({known.function.__module__})")
    REGISTRY[degradation.name] = degradation
    return degradation


def _import(target: str) -> Any:
    """A dotted module name, or a Python file (``*.py``; its stem becomes the module name)."""
    if not target.endswith(".py"):
        return importlib.import_module(target)
    path = Path(target)
    name = f"sisr_degradation_{path.stem}"
    if name in sys.modules:  # registered before in this process: the same record
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or not path.is_file():
        raise SisrError(f"{target}: no such degradation file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[name] = module
    return module


def register_modules(targets: Any, where: str = "degradation_modules") -> None:
    """Register each of ``targets`` (the config's ``degradation_modules``); a bad one: :class:`ConfigError`."""
    for i, target in enumerate(targets or ()):
        try:
            register(target)
        except (ImportError, SyntaxError, SisrError) as exc:
            raise ConfigError(f"{where}[{i}]: {target}: {exc}") from None


# The registry: one line per degradation, its file in this package.
register("sisr.degradations.bicubic")
register("sisr.degradations.pil_bicubic")
register("sisr.degradations.bd")
register("sisr.degradations.dn")


def names() -> list[str]:
    """The registered names, in registration order."""
    return list(REGISTRY)


def _unknown(name: Any) -> str:
    close = difflib.get_close_matches(str(name), REGISTRY, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown degradation {name!r}{hint} (valid: {', '.join(REGISTRY)})"


def get(name: str) -> Degradation:
    """The degradation called ``name``; an unknown name raises :class:`SisrError` (one line: the closest name and
    the valid ones)."""
    if name not in REGISTRY:
        raise SisrError(_unknown(name))
    return REGISTRY[name]


def check_name(name: Any, where: str) -> None:
    """Config check: ``name`` at key path ``where`` is a registered degradation, else :class:`ConfigError`."""
    if not isinstance(name, str) or name not in REGISTRY:
        raise ConfigError(f"{where}: {_unknown(name)}")


def degrade(name: str, hr: Any, scale: int, *, seed: int = 0, image: str = "") -> tuple[Any, Any]:
    """``(lr, hr_crop)`` of ``hr`` by the degradation ``name`` (see :meth:`Degradation.__call__`)."""
    return get(name)(hr, scale, seed=seed, image=image)
