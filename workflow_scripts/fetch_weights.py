"""Rule fetch_weights: download one pretrained file into the weights cache, verified against its hash."""
from sisr.workflow.jobs import fetch_weights_job, job_log

with job_log(snakemake.log[0]):
    fetch_weights_job(filename=snakemake.wildcards.weights_file, dest=snakemake.params.dest,
                      mirror=snakemake.params.mirror, checksums=snakemake.params.checksums)
