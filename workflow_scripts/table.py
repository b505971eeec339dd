"""Rule table: one table of a study (claimed beside ours) as CSV, Markdown and LaTeX."""
from sisr.workflow.jobs import job_log, table_job

with job_log(snakemake.log[0]):
    table_job(study=snakemake.params.study, table=snakemake.wildcards.table,
              summary=snakemake.input.summary, histories=dict(snakemake.params.histories),
              out_csv=snakemake.output.csv, out_md=snakemake.output.md,
              out_tex=snakemake.output.tex, epoch_evals=dict(snakemake.params.epoch_evals))
