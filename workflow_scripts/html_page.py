"""Rules table_html, claims_html, leaderboard_html: a Markdown result as an HTML page for the report."""
from sisr.workflow.jobs import job_log
from sisr.report.html import write_markdown_page

with job_log(snakemake.log[0]):
    write_markdown_page(snakemake.input[0], snakemake.output[0])
