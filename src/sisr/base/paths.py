"""The path scheme of the workflow: every file one stage writes and another reads, in one place.

The rules (rules/*.smk) build their input/output patterns with these functions (called with ``"{wildcard}"``
strings they return Snakemake patterns), and the library (tables, figures, leaderboard, jobs) finds a run's files
with the same functions, so the two cannot drift. docs/ARCHITECTURE.md's "Path scheme" is :func:`scheme_lines`
(tests/test_paths.py checks it).

An evaluation set is named in paths by its *key* (:func:`set_key`): its label (``Set5``, ``div2k-valid``) under
the default degradation (``bicubic``), else ``<degradation>/<label>`` (``bd/Set5``): bicubic paths stay as they
were, every other degradation has its own folder, in evaluation CSVs, SR folders and caches alike.

    paths = Paths.from_config(cfg)
    paths.eval_csv("espcn", "espcn", set_key("Set5", "bd"), 4)   # results/demo/espcn/espcn/eval/bd/Set5_x4.csv
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

DEFAULT_DEGRADATION = "bicubic"  # = sisr.degradations.DEFAULT (checked by tests/test_paths.py; no import: light)


def set_key(label: str, degradation: str = DEFAULT_DEGRADATION) -> str:
    """How an evaluation set appears in paths: ``Set5`` (bicubic), ``bd/Set5`` (any other degradation)."""
    return label if degradation == DEFAULT_DEGRADATION else f"{degradation}/{label}"


def degradation_dir(degradation: str = DEFAULT_DEGRADATION) -> str:
    """The folder prefix of a degradation in cache paths: "" for bicubic, ``bd/`` for bd."""
    return "" if degradation == DEFAULT_DEGRADATION else f"{degradation}/"


# ---- inside one study's folder (<results_dir>/<tier>/<study>): what the library reads, given a study folder


def run_dir(study_dir: str | Path, run: str) -> str:
    return f"{study_dir}/{run}"


def checkpoint(study_dir: str | Path, run: str, which: str = "best") -> str:
    """``checkpoint_best.pt`` / ``checkpoint_last.pt``, or ``checkpoint_epoch<E>.pt`` (``which`` = ``epoch<E>``)."""
    return f"{run_dir(study_dir, run)}/checkpoint_{which}.pt"


def train_done(study_dir: str | Path, run: str) -> str:
    return f"{run_dir(study_dir, run)}/train_done.json"


def history(study_dir: str | Path, run: str) -> str:
    return f"{run_dir(study_dir, run)}/history.csv"


def epoch_eval_csv(study_dir: str | Path, run: str, key: str, scale: int | str) -> str:
    """The run's kept checkpoints evaluated on the validation set (``key``: :func:`set_key`)."""
    return f"{run_dir(study_dir, run)}/eval_epochs/{key}_x{scale}.csv"


def eval_csv(study_dir: str | Path, run: str, key: str, scale: int | str) -> str:
    """Per-image metrics of ``run`` (a trained run or a baseline) on the set ``key`` (:func:`set_key`)."""
    return f"{run_dir(study_dir, run)}/eval/{key}_x{scale}.csv"


def sr_dir(study_dir: str | Path, run: str, key: str, scale: int | str) -> str:
    """The SR images (PNG) of that evaluation."""
    return f"{run_dir(study_dir, run)}/sr/{key}_x{scale}"


def summary(study_dir: str | Path) -> str:
    return f"{study_dir}/summary.csv"


def claims_report(study_dir: str | Path) -> str:
    return f"{study_dir}/REPORT.md"


def table(study_dir: str | Path, name: str, ext: str) -> str:
    return f"{study_dir}/tables/{name}.{ext}"


def figure(study_dir: str | Path, name: str, ext: str) -> str:
    return f"{study_dir}/figures/{name}.{ext}"


@dataclass(frozen=True)
class Paths:
    """Every path of the scheme, from the config's folders and tier (:meth:`from_config`)."""

    data_dir: str = "data"
    results_dir: str = "results"
    logs_dir: str = "logs"
    weights_dir: str = "weights"
    tier: str = "demo"

    @classmethod
    def from_config(cls, cfg: Mapping) -> "Paths":
        return cls(**{k: str(cfg[k]) for k in ("data_dir", "results_dir", "logs_dir", "weights_dir", "tier")})

    # ---- shared by every tier: data, caches, weights, logs of data and weights jobs
    def download(self, archive: str) -> str:
        return f"{self.data_dir}/downloads/{archive}"

    def dataset_dir(self, dataset: str) -> str:
        return f"{self.data_dir}/datasets/{dataset}"

    def dataset_ready(self, dataset: str) -> str:
        return f"{self.dataset_dir(dataset)}/ready.json"

    def extraction_marker(self, dataset: str, archive: str) -> str:
        return f"{self.dataset_dir(dataset)}/.{archive}.complete"

    def cache_manifest(self, dataset: str, split: str, scale: int | str, channels: str = "rgb",
                       degradation: str = DEFAULT_DEGRADATION) -> str:
        """The decoded uint8 HR/LR arrays of a split (``{degdir}`` pattern: :func:`degradation_dir`)."""
        ddir = degradation if degradation == "{degdir}" else degradation_dir(degradation)
        return f"{self.data_dir}/cache/{dataset}/{split}/{ddir}x{scale}_{channels}/manifest.json"

    def weight_file(self, filename: str) -> str:
        return f"{self.weights_dir}/hub/checkpoints/{filename}"

    def data_log(self, rule: str, name: str) -> str:
        """Log of a data or weights job: ``<logs_dir>/<rule>/<name>.log`` (shared by every tier)."""
        return f"{self.logs_dir}/{rule}/{name}.log"

    # ---- the tier's own results and logs
    @property
    def results(self) -> str:
        return f"{self.results_dir}/{self.tier}"

    @property
    def tier_logs(self) -> str:
        return f"{self.logs_dir}/{self.tier}"

    def log(self, rule: str, *parts: str) -> str:
        """Log of one of the tier's jobs: ``<logs_dir>/<tier>/<rule>/<study>/<job>.log`` (``parts``: study, job)."""
        return "/".join([self.tier_logs, rule, *parts]) + ".log"

    def study_dir(self, study: str) -> str:
        return f"{self.results}/{study}"

    def run_dir(self, study: str, run: str) -> str:
        return run_dir(self.study_dir(study), run)

    def checkpoint(self, study: str, run: str, which: str = "best") -> str:
        return checkpoint(self.study_dir(study), run, which)

    def train_done(self, study: str, run: str) -> str:
        return train_done(self.study_dir(study), run)

    def history(self, study: str, run: str) -> str:
        return history(self.study_dir(study), run)

    def epoch_eval_csv(self, study: str, run: str, key: str, scale: int | str) -> str:
        return epoch_eval_csv(self.study_dir(study), run, key, scale)

    def eval_csv(self, study: str, run: str, key: str, scale: int | str) -> str:
        return eval_csv(self.study_dir(study), run, key, scale)

    def sr_dir(self, study: str, run: str, key: str, scale: int | str) -> str:
        return sr_dir(self.study_dir(study), run, key, scale)

    def summary(self, study: str) -> str:
        return summary(self.study_dir(study))

    def claims_report(self, study: str) -> str:
        return claims_report(self.study_dir(study))

    def claims_html(self, study: str) -> str:
        return f"{self.study_dir(study)}/{study}_claims_audit.html"

    def table(self, study: str, name: str, ext: str) -> str:
        return table(self.study_dir(study), name, ext)

    def table_html(self, study: str, name: str) -> str:
        return f"{self.study_dir(study)}/tables/{study}_{name}.html"

    def figure(self, study: str, name: str, ext: str) -> str:
        return figure(self.study_dir(study), name, ext)

    def leaderboard(self, ext: str) -> str:
        return f"{self.results}/leaderboard/leaderboard.{ext}"

    def leaderboard_figure(self, ext: str) -> str:
        return f"{self.results}/leaderboard/psnr_vs_cost.{ext}"

    def overview(self, ext: str = "html") -> str:
        return f"{self.results}/overview.{ext}"


def scheme_lines(paths: Paths | None = None, width: int = 62) -> list[str]:
    """The path scheme as documented (Snakefile header, docs/ARCHITECTURE.md): each pattern, then what it holds
    (on the next line, indented, where the pattern is wider than ``width``)."""
    p = paths or Paths("<data_dir>", "<results_dir>", "<logs_dir>", "<weights_dir>", "<tier>")
    s, r, k, x = "{study}", "{run}", "{set}", "{scale}"
    rows = [
        (p.download("{archive}"), "verified archives (downloads are local rules)"),
        (p.dataset_ready("{dataset}"), "a dataset extracted or materialised"),
        (p.cache_manifest("{dataset}", "{split}", x, "{channels}", "{degdir}"),
         "uint8 HR/LR arrays; {degdir}: '' (bicubic), bd/, dn/"),
        (p.weight_file("{file}"), "pretrained backbones (TORCH_HOME layout)"),
        (p.checkpoint(s, r, "{last,best}"), "checkpoints, the resolved config inside"),
        (p.train_done(s, r), "how training ended, its config, kept epochs"),
        (p.history(s, r), "one row per epoch (losses, val metrics, lr)"),
        (p.checkpoint(s, r, "epoch{E}"), "weights after epoch E (keep_checkpoints)"),
        (p.epoch_eval_csv(s, r, k, x), "those on the validation set: epoch x image"),
        (p.eval_csv(s, r, k, x), "per-image metrics; {set}: Set5, bd/Set5 (bd)"),
        (p.sr_dir(s, r, k, x) + "/", "SR images (PNG)"),
        (p.summary(s), "a row per (run, dataset, degradation, scale)"),
        (p.table(s, "{table}", "{csv,md,tex}"), "the study's tables, claimed beside ours"),
        (p.figure(s, "{figure}", "{png,pdf}"), "the study's figures"),
        (p.claims_report(s), "the audit: findings, then claims"),
        (p.leaderboard("{csv,md,tex,html}"), "every model on the benchmarks, per degradation"),
        (p.leaderboard_figure("{png,pdf}"), "PSNR versus cost"),
        (p.overview(), "the HTML report's front page"),
        (p.log("{rule}", s, "{job}"), "a log per job (data jobs: <logs_dir>/{rule}/)"),
    ]
    lines = []
    for path, what in rows:
        lines += [f"{path:<{width}}  {what}"] if len(path) <= width else [path, f"{'':<{width}}  {what}"]
    return lines
