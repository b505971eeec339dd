"""Rule evaluate_epochs: a run's kept checkpoints (checkpoint_epoch<E>.pt) on the validation set."""
from sisr.workflow.jobs import evaluate_epochs_job, job_log
from sisr.config.job_settings import EvalJob

with job_log(snakemake.log[0], prefix=f"{snakemake.wildcards.study}/{snakemake.wildcards.run}"):
    from sisr.workflow.cluster import pin_job_gpus

    pin_job_gpus(snakemake.resources.gpu)  # distinct GPUs per job on a workstation; SLURM's choice under SLURM
    evaluate_epochs_job(EvalJob.from_param(snakemake.params.job), done=snakemake.input.done,
                        out_csv=snakemake.output.csv)
