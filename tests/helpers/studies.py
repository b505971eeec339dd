"""A copy of one of the repository's study files with an edit, for tests of what the workflow makes of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import yaml

STUDIES_DIR = Path(__file__).resolve().parents[2] / "studies"


def edited_study(folder: str | Path, edit: Callable[[dict[str, Any]], Any], name: str = "espcn") -> Path:
    """``studies/<name>.yaml`` changed by ``edit(spec)`` (in place), written to ``folder/<name>.yaml`` (the folder
    made if missing); returns the new file's path."""
    spec = yaml.safe_load((STUDIES_DIR / f"{name}.yaml").read_text())
    edit(spec)
    path = Path(folder) / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path
