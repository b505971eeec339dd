# Tables, figures and the claims report of each study, all made from results/<tier>/<study>/summary.csv
# (and the runs' history.csv / SR images for figures). Cheap: they run locally, also in cluster mode.
# `snakemake --report` shows HTML and images inline (CSV/Markdown only as downloads), so the tables, the claims
# audit and the leaderboard are also written as HTML pages, and only one format of each figure is in the report.
# Report items have unique file names (the report's link targets are file names). In the report's menu: the
# categories "Overview (all studies)" and "Leaderboard (all studies)" (Snakemake sorts categories by name, so both
# come before the studies), then "Study – <name>" with its claims audit, tables and figures; each item is named by
# its labels (result, study) instead of its path. No colon in a category: Snakemake makes each category a
# reStructuredText link target, whose name ends at the first colon.

STUDY_CATEGORY = "Study – {study}"
OVERVIEW_CATEGORY = "Overview (all studies)"
LEADERBOARD_CATEGORY = "Leaderboard (all studies)"


rule table:
    input:
        study=study_file,
        summary=f"{RES}/{{study}}/summary.csv",
        histories=histories,
        epoch_evals=epoch_evals,
    output:
        csv=f"{RES}/{{study}}/tables/{{table}}.csv",
        md=f"{RES}/{{study}}/tables/{{table}}.md",
        tex=f"{RES}/{{study}}/tables/{{table}}.tex",
    log:
        f"{TIER_LOGS}/table/{{study}}/{{table}}.log",
    localrule: True
    conda:
        "../envs/sisr.yaml"
    params:
        caption=table_caption,
        study=study_of,  # the resolved study (sisr.studies.Study), not its file: resolved once, at parse time
    script:
        "../workflow_scripts/table.py"


rule figure:
    input:
        unpack(figure_inputs),
    output:
        report(
            f"{RES}/{{study}}/figures/{{figure}}.{REPORT_FIGURE_FORMAT}",
            caption="../report/caption.rst",
            category=STUDY_CATEGORY,
            subcategory="3. figures",
            labels={"result": "{figure}", "study": "{study}"},
        ),
        expand(f"{RES}/{{{{study}}}}/figures/{{{{figure}}}}.{{ext}}", ext=OTHER_FIGURE_FORMATS),
    log:
        f"{TIER_LOGS}/figure/{{study}}/{{figure}}.log",
    localrule: True
    conda:
        "../envs/sisr.yaml"
    params:
        caption=figure_caption,
        study=study_of,  # the resolved study (sisr.studies.Study), not its file: resolved once, at parse time
        results_dir=results_dir_of_summary,
    script:
        "../workflow_scripts/figure.py"


rule claims_report:
    input:
        study=study_file,
        summary=f"{RES}/{{study}}/summary.csv",
        histories=histories,
        epoch_evals=epoch_evals,
    output:
        f"{RES}/{{study}}/REPORT.md",
    log:
        f"{TIER_LOGS}/claims_report/{{study}}/report.log",
    localrule: True
    conda:
        "../envs/sisr.yaml"
    params:
        caption=claims_caption,
        study=study_of,  # the resolved study (sisr.studies.Study), not its file: resolved once, at parse time
    script:
        "../workflow_scripts/claims_report.py"


rule leaderboard:
    input:
        all_summaries(),
    output:
        csv=f"{RES}/leaderboard/leaderboard.csv",
        md=f"{RES}/leaderboard/leaderboard.md",
        tex=f"{RES}/leaderboard/leaderboard.tex",
        figure=report(
            f"{RES}/leaderboard/psnr_vs_cost.{REPORT_FIGURE_FORMAT}",
            caption="../report/caption.rst",
            category=LEADERBOARD_CATEGORY,
            labels={"result": "psnr_vs_cost (plot)", "study": "all studies"},
        ),
        figures=expand(f"{RES}/leaderboard/psnr_vs_cost.{{ext}}", ext=OTHER_FIGURE_FORMATS),
    log:
        f"{TIER_LOGS}/leaderboard/leaderboard.log",
    conda:
        "../envs/sisr.yaml"
    params:
        caption=leaderboard_caption,
        datasets=[r.label for r in LEADERBOARD],
    script:
        "../workflow_scripts/leaderboard.py"


rule table_html:
    input:
        f"{RES}/{{study}}/tables/{{table}}.md",
    output:
        report(
            f"{RES}/{{study}}/tables/{{study}}_{{table}}.html",
            caption="../report/caption.rst",
            category=STUDY_CATEGORY,
            subcategory="2. tables",
            labels={"result": "{table}", "study": "{study}"},
        ),
    log:
        f"{TIER_LOGS}/html/{{study}}/{{table}}.log",
    localrule: True
    conda:
        "../envs/sisr.yaml"
    params:
        caption=table_caption,
    script:
        "../workflow_scripts/html_page.py"


rule claims_html:
    input:
        f"{RES}/{{study}}/REPORT.md",
    output:
        report(
            f"{RES}/{{study}}/{{study}}_claims_audit.html",
            caption="../report/caption.rst",
            category=STUDY_CATEGORY,
            subcategory="1. claims audit",
            labels={"result": "claims audit", "study": "{study}"},
        ),
    log:
        f"{TIER_LOGS}/html/{{study}}/claims_audit.log",
    localrule: True
    conda:
        "../envs/sisr.yaml"
    params:
        caption=claims_caption,
    script:
        "../workflow_scripts/html_page.py"


rule leaderboard_html:
    input:
        f"{RES}/leaderboard/leaderboard.md",
    output:
        report(
            f"{RES}/leaderboard/leaderboard.html",
            caption="../report/caption.rst",
            category=LEADERBOARD_CATEGORY,
            labels={"result": "leaderboard (table)", "study": "all studies"},
        ),
    log:
        f"{TIER_LOGS}/html/leaderboard.log",
    localrule: True
    conda:
        "../envs/sisr.yaml"
    params:
        caption=leaderboard_caption,
    script:
        "../workflow_scripts/html_page.py"


rule overview:
    input:
        unpack(overview_inputs),
    output:
        page=report(
            f"{RES}/overview.html",
            caption="../report/caption.rst",
            category=OVERVIEW_CATEGORY,
            labels={"result": "overview", "study": "all studies"},
        ),
        fragment=f"{RES}/overview.fragment.html",
    log:
        f"{TIER_LOGS}/html/overview.log",
    localrule: True
    conda:
        "../envs/sisr.yaml"
    params:
        caption=overview_caption,
        tier=CFG["tier"],
        studies=list(STUDIES),
    script:
        "../workflow_scripts/overview.py"
