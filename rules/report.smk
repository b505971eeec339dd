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
        summary=P.summary("{study}"),
        histories=histories,
        epoch_evals=lambda wildcards: list(epoch_evals(wildcards).values()),
        eval_csvs=study_eval_csvs,  # image_rows tables read the per-image CSVs
    output:
        csv=P.table("{study}", "{table}", "csv"),
        md=P.table("{study}", "{table}", "md"),
        tex=P.table("{study}", "{table}", "tex"),
    log:
        P.log("table", "{study}", "{table}"),
    localrule: True
    conda:
        "../envs/sisr.yaml"
    params:
        caption=table_caption,
        study=study_of,  # the resolved study (sisr.config.studies.Study), not its file: resolved once, at parse time
        histories=history_files,  # run -> history.csv (the input histories)
        epoch_evals=epoch_evals,  # run -> its epoch evaluation CSV (the input epoch_evals)
    script:
        "../workflow_scripts/table.py"


rule figure:
    input:
        unpack(figure_inputs),
    output:
        report(
            P.figure("{study}", "{figure}", REPORT_FIGURE_FORMAT),
            caption="../report/caption.rst",
            category=STUDY_CATEGORY,
            subcategory="3. figures",
            labels={"result": "{figure}", "study": "{study}"},
        ),
        [P.figure("{study}", "{figure}", ext) for ext in OTHER_FIGURE_FORMATS],
    log:
        P.log("figure", "{study}", "{figure}"),
    localrule: True
    conda:
        "../envs/sisr.yaml"
    params:
        caption=figure_caption,
        study=study_of,  # the resolved study (sisr.config.studies.Study), not its file: resolved once, at parse time
        histories=figure_histories,  # run -> history.csv (the input histories, where the figure has them)
        study_dir=study_dir_of,
    script:
        "../workflow_scripts/figure.py"


rule claims_report:
    input:
        study=study_file,
        summary=P.summary("{study}"),
        histories=histories,
        epoch_evals=lambda wildcards: list(epoch_evals(wildcards).values()),
        eval_csvs=study_eval_csvs,
    output:
        P.claims_report("{study}"),
    log:
        P.log("claims_report", "{study}", "report"),
    localrule: True
    conda:
        "../envs/sisr.yaml"
    params:
        caption=claims_caption,
        study=study_of,  # the resolved study (sisr.config.studies.Study), not its file: resolved once, at parse time
        histories=history_files,  # run -> history.csv (the input histories)
        epoch_evals=epoch_evals,
    script:
        "../workflow_scripts/claims_report.py"


rule leaderboard:
    input:
        summaries=all_summaries(),
        runs=run_files,  # checkpoint_best.pt (parameters, FLOPs) and train_done.json (training hours) of each run
    output:
        csv=P.leaderboard("csv"),
        md=P.leaderboard("md"),
        tex=P.leaderboard("tex"),
        figure=report(
            P.leaderboard_figure(REPORT_FIGURE_FORMAT),
            caption="../report/caption.rst",
            category=LEADERBOARD_CATEGORY,
            labels={"result": "psnr_vs_cost (plot)", "study": "all studies"},
        ),
        figures=[P.leaderboard_figure(ext) for ext in OTHER_FIGURE_FORMATS],
    log:
        P.log("leaderboard", "leaderboard"),
    conda:
        "../envs/sisr.yaml"
    params:
        caption=leaderboard_caption,
        datasets=[r.label for r in LEADERBOARD],
        degradations=CFG["leaderboard_degradations"],
    script:
        "../workflow_scripts/leaderboard.py"


rule table_html:
    input:
        P.table("{study}", "{table}", "md"),
    output:
        report(
            P.table_html("{study}", "{table}"),
            caption="../report/caption.rst",
            category=STUDY_CATEGORY,
            subcategory="2. tables",
            labels={"result": "{table}", "study": "{study}"},
        ),
    log:
        P.log("html", "{study}", "{table}"),
    localrule: True
    conda:
        "../envs/sisr.yaml"
    params:
        caption=table_caption,
    script:
        "../workflow_scripts/html_page.py"


rule claims_html:
    input:
        P.claims_report("{study}"),
    output:
        report(
            P.claims_html("{study}"),
            caption="../report/caption.rst",
            category=STUDY_CATEGORY,
            subcategory="1. claims audit",
            labels={"result": "claims audit", "study": "{study}"},
        ),
    log:
        P.log("html", "{study}", "claims_audit"),
    localrule: True
    conda:
        "../envs/sisr.yaml"
    params:
        caption=claims_caption,
    script:
        "../workflow_scripts/html_page.py"


rule leaderboard_html:
    input:
        P.leaderboard("md"),
    output:
        report(
            P.leaderboard("html"),
            caption="../report/caption.rst",
            category=LEADERBOARD_CATEGORY,
            labels={"result": "leaderboard (table)", "study": "all studies"},
        ),
    log:
        P.log("html", "leaderboard"),
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
            P.overview(),
            caption="../report/caption.rst",
            category=OVERVIEW_CATEGORY,
            labels={"result": "overview", "study": "all studies"},
        ),
        fragment=P.overview("fragment.html"),
    log:
        P.log("html", "overview"),
    localrule: True
    conda:
        "../envs/sisr.yaml"
    params:
        caption=overview_caption,
        tier=CFG["tier"],
        studies=list(STUDIES),
    script:
        "../workflow_scripts/overview.py"
