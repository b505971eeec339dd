"""Rule leaderboard: every trained model and baseline of the selected studies on the standard benchmarks."""
from sisr.workflow.jobs import job_log, leaderboard_job

with job_log(snakemake.log[0]):
    leaderboard_job(summaries=list(snakemake.input.summaries), datasets=snakemake.params.datasets,
                    degradations=snakemake.params.degradations,
                    out_csv=snakemake.output.csv, out_md=snakemake.output.md, out_tex=snakemake.output.tex,
                    figures=[snakemake.output.figure, *snakemake.output.figures])
