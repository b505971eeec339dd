"""Rule summarize: per-image evaluation CSVs of a study -> summary.csv (one row per run x dataset x scale)."""
from sisr.workflow.jobs import job_log, summarize_job

with job_log(snakemake.log[0]):
    summarize_job(csvs=list(snakemake.input.csvs), out=snakemake.output[0], sets=list(snakemake.params.sets),
                  replica_of=dict(snakemake.params.replica_of))
