"""Rule evaluate_<study>: one model (baseline or trained run) on every evaluation set of its study, standard protocol."""
from sisr.workflow.jobs import evaluate_job, job_log
from sisr.config.job_settings import EvalJob

with job_log(snakemake.log[0], prefix=f"{snakemake.wildcards.study}/{snakemake.wildcards.run}"):
    from sisr.workflow.cluster import pin_job_gpus

    pin_job_gpus(snakemake.resources.gpu)  # distinct GPUs per job on a workstation; SLURM's choice under SLURM
    evaluate_job(EvalJob.from_param(snakemake.params.job), checkpoint=snakemake.input.get("checkpoint"),
                 out_csvs=list(snakemake.output.csv), sr_dirs=list(snakemake.output.sr))
