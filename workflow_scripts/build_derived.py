"""Rule build_derived: a study's derived dataset (residual_sweep tiles, rrdb_gan split, inverted_unet letterbox)."""
from sisr.workflow.jobs import build_derived_job, job_log

with job_log(snakemake.log[0]):
    p = snakemake.params
    build_derived_job(name=p.name, data_dir=p.data_dir, out=snakemake.output[0], on_bad_image=p.on_bad_image,
                      params=p.derived)
