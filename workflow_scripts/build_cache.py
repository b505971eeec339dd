"""Rule build_cache: decode one dataset split into the uint8 cache that training reads."""
from sisr.workflow.jobs import build_cache_job, job_log

with job_log(snakemake.log[0]):
    p = snakemake.params
    build_cache_job(dataset=p.dataset, split=p.split, scale=int(p.scale), root=p.root,
                    manifest=snakemake.output[0], on_bad_image=p.on_bad_image, channels=p.channels,
                    degradation=p.degradation, degradation_modules=p.degradation_modules)
