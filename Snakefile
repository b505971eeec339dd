# sisr-bench: reproduce single-image super-resolution studies, evaluated with one documented protocol.
#
#   snakemake --cores all                      # default config.yaml: the demo tier on embedded images (CPU)
#   snakemake --cores all --config tier=paper  # the studies' own settings (downloads DIV2K etc.; GPUs)
#   snakemake --profile profiles/slurm ...     # on a SLURM cluster (see README)
#
# Path scheme (config keys in <>; wildcards in {}):
#   <data_dir>/downloads/{archive}                           verified archives (downloads are local rules)
#   <data_dir>/datasets/{dataset}/ready.json                 a dataset extracted or materialised, with manifest
#   <data_dir>/cache/{dataset}/{split}/x{scale}/manifest.json  decoded uint8 HR/LR arrays for training/evaluation
#   <weights_dir>/hub/checkpoints/{file}                     pretrained backbones (TORCH_HOME layout)
#   <results_dir>/{study}/{run}/checkpoint_{last,best}.pt    checkpoints, with the resolved config inside
#   <results_dir>/{study}/{run}/history.csv                  one row per epoch (losses, val metrics, lr, time)
#   <results_dir>/{study}/{run}/eval/{evalset}_x{scale}.csv  per-image metrics ({run} may be a baseline)
#   <results_dir>/{study}/{run}/sr/{evalset}_x{scale}/       SR images (PNG)
#   <results_dir>/{study}/summary.csv                        one row per (run, dataset, scale): the tidy table
#   <results_dir>/{study}/tables/{table}.{csv,md,tex}        the study's tables, claimed beside ours
#   <results_dir>/{study}/figures/{figure}.{png,pdf}         the study's figures
#   <results_dir>/{study}/REPORT.md                          which claims reproduce
#   <logs_dir>/{rule}/{study}/{run}.log                      one log per job

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/weights.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/report.smk"


rule all:
    input:
        all_targets(),
    default_target: True


onsuccess:
    print_outputs()
