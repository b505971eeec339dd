"""Rule train: train one run of a study; resumes from checkpoint_last.pt after a kill or preemption."""
from sisr.workflow.jobs import job_log, train_job
from sisr.config.job_settings import TrainJob

with job_log(snakemake.log[0], prefix=f"{snakemake.wildcards.study}/{snakemake.wildcards.run}"):
    from sisr.workflow.cluster import pin_job_gpus

    pin_job_gpus(snakemake.resources.gpu)  # distinct GPUs per job on a workstation; SLURM's choice under SLURM
    train_job(TrainJob.from_param(snakemake.params.job), train_manifest=snakemake.input.train,
              valid_manifest=snakemake.input.valid, out_dir=snakemake.params.out_dir)
