"""Domain tables the workflow plans its jobs from, as data (``rules/common.smk`` only wires paths):
which datasets exist and where their images come from, the leaderboard's evaluation sets per tier, and the
captions of the tables and figures. No torch is imported (the workflow reads this while it parses).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

from sisr.data.sources import archives_for
from sisr.base.errors import ConfigError
from sisr.base import suggest
from sisr.config.studies import DatasetRef, Study

DOWNLOADED = ("div2k", "flickr2k", "df2k", "benchmark")  # datasets made of downloaded archives (sisr.data.sources)
EMBEDDED = ("skimage",)  # the photographs bundled with scikit-image (the demo and ci tiers)
DERIVED_SOURCES: dict[str, list[tuple[str, str]]] = {  # derived dataset -> (dataset, split) cut from
    "residual_sweep": [("df2k", "train"), ("df2k", "valid")],
    "rrdb_gan": [("div2k", "train"), ("div2k", "valid")],
    "inverted_unet": [("df2k", "train"), ("df2k", "valid")],
}

# The leaderboard's evaluation sets (standard benchmarks; the embedded set in the demo and ci tiers) are evaluated
# for every study at its scale, beside the study's own evaluation sets.
LEADERBOARD_SETS: dict[str, list[str]] = {
    "demo": ["skimage/valid"],
    "ci": ["skimage/valid"],
    "quick": ["benchmark/Set5", "benchmark/Set14", "benchmark/B100", "benchmark/Urban100", "div2k/valid"],
    "paper": ["benchmark/Set5", "benchmark/Set14", "benchmark/B100", "benchmark/Urban100", "div2k/valid"],
}

REHEARSAL_NOTE = ("REHEARSAL on look-alike data with capped schedules (and random-init backbones where weights are "
                  "needed): these numbers mean nothing about super-resolution. ")
PROTOCOL_NOTE = ("Standard protocol: MATLAB-bicubic LR, SR quantised to uint8, Y of BT.601, border = scale, "
                 "SSIM 11x11 Gaussian (sigma 1.5); mean over images.")


def known_datasets(local: Iterable[str] = ()) -> tuple[str, ...]:
    """Every dataset name a study may use: downloaded, embedded, derived, and the config's local folders."""
    return (*DOWNLOADED, *EMBEDDED, *DERIVED_SOURCES, *local)


def check_datasets(study: Study, studies_dir: str | Path, local: Iterable[str] = ()) -> None:
    """ConfigError naming the study file and key when a data reference names no known dataset."""
    known = known_datasets(local)
    data = study.spec["tiers"][study.tier]["data"]
    refs = [("train", data["train"]), ("valid", data["valid"])] + [(f"eval[{i}]", r) for i, r in enumerate(data["eval"])]
    for key, text in refs:
        ref = DatasetRef.parse(text)
        if ref.dataset not in known:
            raise ConfigError(f"{Path(studies_dir) / study.name}.yaml: tiers.{study.tier}.data.{key}: "
                              f"{suggest.unknown('dataset', [ref.dataset], known)} (local folders go under the "
                              f"config's datasets key)")


def leaderboard_refs(tier: str, override: Iterable[str] | None = None,
                     degradations: Iterable[str] = ("bicubic",)) -> list[DatasetRef]:
    """The leaderboard's evaluation sets of ``tier`` (the config's ``leaderboard_sets`` when given), each under
    every one of ``degradations`` (the config's ``leaderboard_degradations``; a set naming its own keeps it)."""
    refs = []
    for text in override or LEADERBOARD_SETS[tier]:
        named = "@" in text
        refs += [DatasetRef.parse(text, d) for d in (["bicubic"] if named else degradations)]
    return list(dict.fromkeys(refs))


def caption(study: Study, spec: Mapping, note: str = "") -> str:
    """Caption of a table or figure of ``study`` (``spec``: its entry in the study file; ``note`` first)."""
    data = f"Data: train {study.train_data}, validation {study.valid_data}, evaluation " + \
        ", ".join(str(r) for r in study.eval_data) + \
        f"; x{study.scale}, {study.channels.upper()}; LR images by the {study.degradation} degradation " \
        "(by NAME for a set marked @NAME)."
    return " ".join(filter(None, [note, spec.get("title", ""), spec.get("caption", ""), data,
                                  f"Tier: {study.tier} - {study.tier_description}", PROTOCOL_NOTE]))


def claims_caption(study: Study, note: str = "") -> str:
    return caption(study, {"title": f"Audit of study {study.name}",
                           "caption": "The document's findings (hold, reversed or inconclusive against seed noise) "
                                      "and claims (reproduced or not where like-for-like, else indicative)."}, note)


def overview_caption(studies: Iterable[Study], tier: str, note: str = "") -> str:
    data = "; ".join(f"{s.name}: trained on {s.train_data}, evaluated on {', '.join(map(str, s.eval_data))} "
                     f"(x{s.scale}, {s.channels.upper()})" for s in studies)
    return (f"{note}Overview of tier {tier}: every study's audit (findings and claims, verdicts only where "
            f"like-for-like) and the leaderboard's PSNR-versus-cost plot. Data: {data}. {PROTOCOL_NOTE}")


def leaderboard_caption(studies: Iterable[str], tier: str, refs: Iterable[DatasetRef], note: str = "") -> str:
    sets = ", ".join(str(r) for r in refs)
    return (f"{note}Every model of the studies {', '.join(studies)} (tier {tier}) on {sets}, beside published rows "
            f"(quoted from REFERENCE.md). Cost: parameters, GFLOPs per output megapixel, training hours, inference "
            f"seconds per image on the machine that ran it. {PROTOCOL_NOTE}")


# The splits of each dataset (benchmark: its set names, in any case); a local folder's are not checked.
SPLITS: dict[str, tuple[str, ...]] = {
    "div2k": ("train", "valid"), "flickr2k": ("train",), "df2k": ("train", "valid"),
    "benchmark": ("Set5", "Set14", "B100", "Urban100"), "skimage": ("train", "valid"),
    "residual_sweep": ("train", "valid", "test"), "rrdb_gan": ("train", "valid", "test"),
    "inverted_unet": ("train", "valid"),
}


def check_splits(study: Study, studies_dir: str | Path, local: Iterable[str] = ()) -> None:
    """ConfigError naming the study file, the key and the valid splits when a data reference names an unknown
    split of a known dataset (``skimage/trian``); the splits of local folders are not checked."""
    data = study.spec["tiers"][study.tier]["data"]
    refs = [("train", data["train"]), ("valid", data["valid"])] + [(f"eval[{i}]", r) for i, r in enumerate(data["eval"])]
    for key, text in refs:
        ref = DatasetRef.parse(text)
        splits = SPLITS.get(ref.dataset) if ref.dataset not in local else None
        if splits and ref.split.lower() not in {s.lower() for s in splits}:
            raise ConfigError(f"{Path(studies_dir) / study.name}.yaml: tiers.{study.tier}.data.{key}: unknown split "
                              f"{ref.split!r} of dataset {ref.dataset} in {text!r}; valid splits: {', '.join(splits)}")


def ref_archives(ref: DatasetRef, scale: int, local: Iterable[str] = ()) -> set[str]:
    """The archives the workflow downloads for one data reference at ``scale``: a downloaded dataset's own, a
    derived dataset's sources'; none for a local folder or the bundled photographs."""
    if ref.dataset in local:
        return set()
    names = set(archives_for(ref.dataset, split=ref.split, scales=[scale])) if ref.dataset in DOWNLOADED else set()
    for source, split in DERIVED_SOURCES.get(ref.dataset, []):
        names.update(archives_for(source, split=split))
    return names


def needed_archives(studies: Iterable[Study], local: Iterable[str] = ()) -> dict[str, set[str]]:
    """dataset -> the archives it needs, over every data reference of ``studies`` (each at its scale)."""
    needed: dict[str, set[str]] = {}
    for study in studies:
        for ref in (study.train_data, study.valid_data, *study.eval_data):
            needed.setdefault(ref.dataset, set()).update(ref_archives(ref, study.scale, local))
    return needed
