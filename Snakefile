# sisr-bench: reproduce single-image super-resolution studies, evaluated with one documented protocol.
#
#   snakemake --cores all                      # default config.yaml: the demo tier on embedded images (CPU)
#   snakemake --cores all --config tier=paper  # the studies' own settings (downloads DIV2K etc.; GPUs)
#   snakemake --profile profiles/slurm ...     # on a SLURM cluster (see README)
#
# Path scheme (config keys in <>; wildcards in {}). Every tier writes its own results and logs under <tier>/, so
# tiers live side by side (running the quick tier after the demo leaves the demo's results as they are); data,
# caches and pretrained weights do not depend on the tier and are shared:
#   <data_dir>/downloads/{archive}                           verified archives (downloads are local rules)
#   <data_dir>/datasets/{dataset}/ready.json                 a dataset extracted or materialised, with manifest
#   <data_dir>/cache/{dataset}/{split}/x{scale}/manifest.json  decoded uint8 HR/LR arrays for training/evaluation
#   <weights_dir>/hub/checkpoints/{file}                     pretrained backbones (TORCH_HOME layout)
#   <results_dir>/<tier>/{study}/{run}/checkpoint_{last,best}.pt    checkpoints, with the resolved config inside
#   <results_dir>/<tier>/{study}/{run}/history.csv                  one row per epoch (losses, val metrics, lr, time)
#   <results_dir>/<tier>/{study}/{run}/checkpoint_epoch<E>.pt       weights after epoch E (train.keep_checkpoints)
#   <results_dir>/<tier>/{study}/{run}/eval_epochs/{evalset}_x{scale}.csv  those on the validation set: per-epoch
#                                                                   metrics history.csv lacks (FID), row per epoch x image
#   <results_dir>/<tier>/{study}/{run}/eval/{evalset}_x{scale}.csv  per-image metrics ({run} may be a baseline)
#   <results_dir>/<tier>/{study}/{run}/sr/{evalset}_x{scale}/       SR images (PNG)
#   <results_dir>/<tier>/{study}/summary.csv                        one row per (run, dataset, scale): the tidy table
#   <results_dir>/<tier>/{study}/tables/{table}.{csv,md,tex}        the study's tables, claimed beside ours
#   <results_dir>/<tier>/{study}/figures/{figure}.{png,pdf}         the study's figures
#   <results_dir>/<tier>/{study}/REPORT.md                          which claims reproduce
#   <results_dir>/<tier>/{study}/{study}_claims_audit.html, tables/{study}_{table}.html   the same as HTML (--report)
#   <results_dir>/<tier>/overview.html                       the report's front page: verdicts, leaderboard plot
#   <results_dir>/<tier>/leaderboard/leaderboard.{csv,md,tex,html}, psnr_vs_cost.{png,pdf}   every model, its cost
#   <logs_dir>/<tier>/{rule}/{study}/{run}.log               one log per job (data and weights jobs: <logs_dir>/{rule}/)

import sys

from snakemake.utils import min_version

min_version("9.0")

# A YAML mistake or a repeated key in config.yaml: one line FILE:LINE:COLUMN (before Snakemake's own loader, which
# names neither); the files given with --configfile are read again in rules/common.smk.
sys.path.insert(0, f"{workflow.basedir}/src")
from sisr.studies import check_yaml_file

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
