"""Rule train: train one run of a study; resumes from checkpoint_last.pt after a kill or preemption."""
from sisr.jobs import job_log, train_job

with job_log(snakemake.log[0], prefix=f"{snakemake.wildcards.study}/{snakemake.wildcards.run}"):
    from sisr.cluster import pin_job_gpus

    pin_job_gpus(snakemake.resources.gpu)  # distinct GPUs per job on a workstation; SLURM's choice under SLURM
    p = snakemake.params
    train_job(settings=p.settings, train_manifest=snakemake.input.train, valid_manifest=snakemake.input.valid,
              out_dir=p.out_dir, device=p.device, num_workers=p.num_workers, weights_dir=p.weights_dir,
              weights_checksums=p.weights_checksums, max_batches=p.max_batches, valid_images=p.valid_images,
              where=f"{snakemake.wildcards.study}.runs.{snakemake.wildcards.run}",
              progress_every_s=p.progress_every_s, tensorboard=p.tensorboard)
