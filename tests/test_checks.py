"""The check files (checks/*.yaml, e.g. the T91 check) validate and resolve in every tier, like the studies."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sisr.config.studies import load_study

CHECKS = sorted((Path(__file__).resolve().parents[1] / "checks").glob("*.yaml"))


@pytest.mark.parametrize("path", CHECKS, ids=[p.stem for p in CHECKS])
def test_check_file_loads_in_every_tier(path):
    tiers = yaml.safe_load(path.read_text())["tiers"]
    for tier in tiers:
        study = load_study(path, tier)
        assert study.runs, (path, tier)
