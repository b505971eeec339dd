"""Rule download: one archive of the catalogue, resumed if partial, verified against its published checksum."""
from pathlib import Path

from sisr.workflow.jobs import download_job, job_log

with job_log(snakemake.log[0]):
    download_job(archive=snakemake.wildcards.archive, downloads_dir=str(Path(snakemake.output[0]).parent),
                 mirror=snakemake.params.mirror, overrides=snakemake.params.overrides)
