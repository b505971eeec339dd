"""Rule extract: verify an archive (downloaded or placed by hand) and unpack it into its dataset folder
(atomically, no path traversal). The checksum overrides come from the config (``archives:``), not from params,
so that existing extractions are not rerun for them."""
from sisr.workflow.jobs import extract_job, job_log

with job_log(snakemake.log[0]):
    extract_job(archive=snakemake.input[0], marker=snakemake.output[0],
                overrides=snakemake.config.get("archives") or {})
