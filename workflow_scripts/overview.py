"""Rule overview: the report's landing page - every study's claims audit and the leaderboard's plot."""
from sisr.workflow.jobs import job_log
from sisr.report.html import write_overview

with job_log(snakemake.log[0]):
    write_overview(claims=dict(zip(snakemake.params.studies, snakemake.input.claims)),
                   figure=snakemake.input.get("leaderboard"), tier=snakemake.params.tier,
                   out_page=snakemake.output.page, out_fragment=snakemake.output.fragment)
