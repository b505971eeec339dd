"""Rule evaluate_epochs: a run's kept checkpoints (checkpoint_epoch<E>.pt) on the validation set."""
from sisr.workflow.jobs import evaluate_epochs_job, job_log

with job_log(snakemake.log[0], prefix=f"{snakemake.wildcards.study}/{snakemake.wildcards.run}"):
    from sisr.workflow.cluster import pin_job_gpus

    pin_job_gpus(snakemake.resources.gpu)  # distinct GPUs per job on a workstation; SLURM's choice under SLURM
    p = snakemake.params
    evaluate_epochs_job(study=p.study, run=p.run, done=snakemake.input.done, scale=int(snakemake.wildcards.scale),
                        in_channels=p.in_channels, metrics=p.metrics, out_csv=snakemake.output.csv, tier=p.tier,
                        device=p.device, weights_dir=p.weights_dir, weights_checksums=p.weights_checksums,
                        degradation_modules=p.degradation_modules, **p.evalset)
