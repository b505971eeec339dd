# sisr-bench: reproduce single-image super-resolution studies, evaluated with one documented protocol.
#
#   snakemake --cores all                      # default config.yaml: the demo tier on embedded images (CPU)
#   snakemake --cores all --config tier=paper  # the studies' own settings (downloads DIV2K etc.; GPUs)
#   snakemake --profile profiles/slurm ...     # on a SLURM cluster (see README)
#
# Path scheme, from sisr.base.paths.scheme_lines() (config keys in <>; wildcards in {}; tests/test_paths.py checks this
# copy). Every tier writes its own results and logs under <tier>/, so tiers live side by side; data, caches and
# pretrained weights do not depend on the tier and are shared. A set under a degradation other than bicubic has
# its own folder level ({set} = bd/Set5), in evaluation CSVs, SR folders and caches alike:
#   <data_dir>/downloads/{archive}                                  verified archives (downloads are local rules)
#   <data_dir>/datasets/{dataset}/ready.json                        a dataset extracted or materialised
#   <data_dir>/cache/{dataset}/{split}/{degdir}x{scale}_{channels}/manifest.json
#                                                                   uint8 HR/LR arrays; {degdir}: '' (bicubic), bd/, dn/
#   <weights_dir>/hub/checkpoints/{file}                            pretrained backbones (TORCH_HOME layout)
#   <results_dir>/<tier>/{study}/{run}/checkpoint_{last,best}.pt    checkpoints, the resolved config inside
#   <results_dir>/<tier>/{study}/{run}/train_done.json              how training ended, its config, kept epochs
#   <results_dir>/<tier>/{study}/{run}/history.csv                  one row per epoch (losses, val metrics, lr)
#   <results_dir>/<tier>/{study}/{run}/checkpoint_epoch{E}.pt       weights after epoch E (keep_checkpoints)
#   <results_dir>/<tier>/{study}/{run}/eval_epochs/{set}_x{scale}.csv
#                                                                   those on the validation set: epoch x image
#   <results_dir>/<tier>/{study}/{run}/eval/{set}_x{scale}.csv      per-image metrics; {set}: Set5, bd/Set5 (bd)
#   <results_dir>/<tier>/{study}/{run}/sr/{set}_x{scale}/           SR images (PNG)
#   <results_dir>/<tier>/{study}/summary.csv                        a row per (run, dataset, degradation, scale)
#   <results_dir>/<tier>/{study}/tables/{table}.{csv,md,tex}        the study's tables, claimed beside ours
#   <results_dir>/<tier>/{study}/figures/{figure}.{png,pdf}         the study's figures
#   <results_dir>/<tier>/{study}/REPORT.md                          the audit: findings, then claims
#   <results_dir>/<tier>/leaderboard/leaderboard.{csv,md,tex,html}  every model on the benchmarks, per degradation
#   <results_dir>/<tier>/leaderboard/psnr_vs_cost.{png,pdf}         PSNR versus cost
#   <results_dir>/<tier>/overview.html                              the HTML report's front page
#   <logs_dir>/<tier>/{rule}/{study}/{job}.log                      a log per job (data jobs: <logs_dir>/{rule}/)

import sys

from snakemake.utils import min_version

min_version("9.0")

# A YAML mistake or a repeated key in config.yaml: one line FILE:LINE:COLUMN (before Snakemake's own loader, which
# names neither); the files given with --configfile are read again in rules/common.smk.
sys.path.insert(0, f"{workflow.basedir}/src")
from sisr.config.studies import check_yaml_file

check_yaml_file("config.yaml")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/setup.smk"
include: "rules/data.smk"
include: "rules/weights.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),


onsuccess:
    print_outputs()


onerror:
    print_interrupted_runs()
