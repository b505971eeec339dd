"""Rule evaluate: one model (baseline or trained run) on one evaluation set, standard protocol."""
from sisr.workflow.jobs import evaluate_job, job_log

with job_log(snakemake.log[0], prefix=f"{snakemake.wildcards.study}/{snakemake.wildcards.run}"):
    from sisr.workflow.cluster import pin_job_gpus

    pin_job_gpus(snakemake.resources.gpu)  # distinct GPUs per job on a workstation; SLURM's choice under SLURM
    p = snakemake.params
    evaluate_job(study=p.study, run=p.model, model=p.model, checkpoint=snakemake.input.get("checkpoint"),
                 scale=int(snakemake.wildcards.scale), in_channels=p.in_channels, metrics=p.metrics,
                 out_csv=snakemake.output.csv, sr_dir=snakemake.output.sr, tier=p.tier, device=p.device,
                 weights_dir=p.weights_dir, weights_checksums=p.weights_checksums,
                 degradation_modules=p.degradation_modules, **p.evalset)
