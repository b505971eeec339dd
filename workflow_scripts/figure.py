"""Rule figure: one figure of a study (PNG and PDF)."""
from sisr.workflow.jobs import figure_job, job_log

with job_log(snakemake.log[0]):
    figure_job(study=snakemake.params.study, figure=snakemake.wildcards.figure,
               study_dir=snakemake.params.study_dir,
               summary=snakemake.input.summary, histories=dict(snakemake.params.histories),
               outputs=list(snakemake.output))
