"""Rule dataset_ready: a downloaded dataset is complete once all its archives are extracted."""
from sisr.workflow.jobs import dataset_ready_job, job_log

with job_log(snakemake.log[0]):
    dataset_ready_job(dataset=snakemake.wildcards.dataset, markers=list(snakemake.input), out=snakemake.output[0])
