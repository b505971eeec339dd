"""Rule claims_report: REPORT.md: the study's findings and claims, judged (sisr.report.audit)."""
from sisr.workflow.jobs import claims_report_job, job_log

with job_log(snakemake.log[0]):
    claims_report_job(study=snakemake.params.study,
                      summary=snakemake.input.summary, histories=dict(snakemake.params.histories),
                      out=snakemake.output[0], study_file=snakemake.input.study,
                      epoch_evals=dict(snakemake.params.epoch_evals))
