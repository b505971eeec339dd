"""Rule claims_report: REPORT.md listing which of the study's claims reproduce within its tolerance."""
from sisr.jobs import claims_report_job, job_log

with job_log(snakemake.log[0]):
    claims_report_job(study=snakemake.params.study,
                      summary=snakemake.input.summary, histories=list(snakemake.input.histories),
                      out=snakemake.output[0])
