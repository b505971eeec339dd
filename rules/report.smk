# Tables, figures and the claims report of each study, all made from results/<study>/summary.csv
# (and the runs' history.csv / SR images for figures). Cheap: they run locally, also in cluster mode.


rule table:
    input:
        study=study_file,
        summary=f"{RES}/{{study}}/summary.csv",
        histories=histories,
    output:
        csv=report(f"{RES}/{{study}}/tables/{{table}}.csv", caption="../report/caption.rst", category="{study}",
                   subcategory="tables"),
        md=f"{RES}/{{study}}/tables/{{table}}.md",
        tex=f"{RES}/{{study}}/tables/{{table}}.tex",
    params:
        caption=table_caption,
        study_file=study_file,
        tier=CFG["tier"],
    localrule: True
    log:
        f"{TIER_LOGS}/table/{{study}}/{{table}}.log",
    conda:
        "../envs/sisr.yaml"
    script:
        "../workflow_scripts/table.py"


rule figure:
    input:
        unpack(figure_inputs),
    output:
        report(
            expand(f"{RES}/{{{{study}}}}/figures/{{{{figure}}}}.{{ext}}", ext=CFG["figures"]),
            caption="../report/caption.rst",
            category="{study}",
            subcategory="figures",
        ),
    params:
        caption=figure_caption,
        study_file=study_file,
        tier=CFG["tier"],
        results_dir=results_dir_of_summary,
    localrule: True
    log:
        f"{TIER_LOGS}/figure/{{study}}/{{figure}}.log",
    conda:
        "../envs/sisr.yaml"
    script:
        "../workflow_scripts/figure.py"


rule claims_report:
    input:
        study=study_file,
        summary=f"{RES}/{{study}}/summary.csv",
        histories=histories,
    output:
        report(f"{RES}/{{study}}/REPORT.md", caption="../report/caption.rst", category="{study}",
               subcategory="claims audit"),
    params:
        caption=claims_caption,
        study_file=study_file,
        tier=CFG["tier"],
    localrule: True
    log:
        f"{TIER_LOGS}/claims_report/{{study}}/report.log",
    conda:
        "../envs/sisr.yaml"
    script:
        "../workflow_scripts/claims_report.py"


rule leaderboard:
    input:
        all_summaries(),
    output:
        csv=report(f"{RES}/leaderboard/leaderboard.csv", caption="../report/caption.rst", category="leaderboard"),
        md=f"{RES}/leaderboard/leaderboard.md",
        tex=f"{RES}/leaderboard/leaderboard.tex",
        figures=report(expand(f"{RES}/leaderboard/psnr_vs_cost.{{ext}}", ext=CFG["figures"]),
                       caption="../report/caption.rst", category="leaderboard"),
    params:
        caption=leaderboard_caption,
        datasets=[r.label for r in LEADERBOARD],
    log:
        f"{TIER_LOGS}/leaderboard/leaderboard.log",
    conda:
        "../envs/sisr.yaml"
    script:
        "../workflow_scripts/leaderboard.py"
