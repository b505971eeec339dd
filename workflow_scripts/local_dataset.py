"""Rule local_dataset: a dataset read from a local folder named in the config (`datasets:`)."""
from sisr.workflow.jobs import job_log, local_dataset_job

with job_log(snakemake.log[0]):
    local_dataset_job(name=snakemake.wildcards.local, adapter=snakemake.params.adapter, root=snakemake.params.root,
                      out=snakemake.output[0])
