# Tables, figures and the claims report of each study, all made from results/<study>/summary.csv
# (and the runs' history.csv / SR images for figures). Cheap: they run locally, also in cluster mode.


rule table:
    input:
        summary=f"{RES}/{{study}}/summary.csv",
    output:
        csv=f"{RES}/{{study}}/tables/{{table}}.csv",
        md=f"{RES}/{{study}}/tables/{{table}}.md",
        tex=f"{RES}/{{study}}/tables/{{table}}.tex",
    params:
        study_file=study_file,
        tier=CFG["tier"],
    localrule: True
    log:
        f"{LOGS}/table/{{study}}/{{table}}.log",
    conda:
        "../envs/sisr.yaml"
    script:
        "../workflow_scripts/table.py"


rule figure:
    input:
        unpack(figure_inputs),
    output:
        expand(f"{RES}/{{{{study}}}}/figures/{{{{figure}}}}.{{ext}}", ext=CFG["figures"]),
    params:
        study_file=study_file,
        tier=CFG["tier"],
        results_dir=results_dir_of_summary,
    localrule: True
    log:
        f"{LOGS}/figure/{{study}}/{{figure}}.log",
    conda:
        "../envs/sisr.yaml"
    script:
        "../workflow_scripts/figure.py"


rule claims_report:
    input:
        summary=f"{RES}/{{study}}/summary.csv",
    output:
        f"{RES}/{{study}}/REPORT.md",
    params:
        study_file=study_file,
        tier=CFG["tier"],
    localrule: True
    log:
        f"{LOGS}/claims_report/{{study}}/report.log",
    conda:
        "../envs/sisr.yaml"
    script:
        "../workflow_scripts/claims_report.py"


rule leaderboard:
    input:
        all_summaries(),
    output:
        csv=f"{RES}/leaderboard/leaderboard.csv",
        md=f"{RES}/leaderboard/leaderboard.md",
        tex=f"{RES}/leaderboard/leaderboard.tex",
        figures=expand(f"{RES}/leaderboard/psnr_vs_cost.{{ext}}", ext=CFG["figures"]),
    params:
        datasets=[r.label for r in LEADERBOARD],
    log:
        f"{LOGS}/leaderboard/leaderboard.log",
    conda:
        "../envs/sisr.yaml"
    script:
        "../workflow_scripts/leaderboard.py"
