"""Rule extract: unpack a verified archive into its dataset folder (atomically, no path traversal)."""
from sisr.jobs import extract_job, job_log

with job_log(snakemake.log[0]):
    extract_job(archive=snakemake.input[0], marker=snakemake.output[0])
