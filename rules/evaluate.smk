# Evaluation: every model (baselines and trained runs) on every evaluation set of its study, standard protocol
# (and the study's own protocol columns where it has them). One job per (study, model) covering all of the
# study's sets, so torch, the model and the LPIPS/FID networks load once per model, not once per set: rule
# evaluate_<study>, one per study, since its outputs (a CSV and an SR folder per set) are the study's own list.


for _name, _study in STUDIES.items():

    rule:
        name:
            f"evaluate_{_name}"
        input:
            unpack(eval_inputs),
        output:
            csv=[P.eval_csv("{study}", "{run}", ref.key, _study.scale) for ref in _study.eval_data],
            sr=[directory(P.sr_dir("{study}", "{run}", ref.key, _study.scale)) for ref in _study.eval_data],
        log:
            P.log("evaluate", "{study}", "{run}"),
        wildcard_constraints:
            study=_name,
            run="|".join(_study.all_models),
        priority: eval_priority
        conda:
            "../envs/sisr.yaml"
        resources:
            gpu=eval_gpus,
            mem_mb=8000,
            runtime=eval_runtime,
        params:
            job=eval_job_record,  # one resolved record (sisr.config.job_settings.EvalJob), its sets in output order
        script:
            "../workflow_scripts/evaluate.py"


# Per-epoch metrics that training does not log (FID, the study's protocol on crops): the checkpoints a run kept
# (train.keep_checkpoints) evaluated on the validation set. One job per run; read by the epoch_rows tables.


rule evaluate_epochs:
    input:
        unpack(epoch_eval_inputs),
    output:
        csv=P.epoch_eval_csv("{study}", "{run}", "{evalset}", "{scale}"),
    log:
        P.log("evaluate_epochs", "{study}", "{run}_{evalset}_x{scale}"),
    priority: eval_priority
    conda:
        "../envs/sisr.yaml"
    resources:
        gpu=eval_gpus,
        mem_mb=8000,
        runtime=120,
    params:
        job=epoch_eval_job_record,  # one resolved record (sisr.config.job_settings.EvalJob): the validation set
    script:
        "../workflow_scripts/evaluate_epochs.py"


rule summarize:
    input:
        csvs=study_eval_csvs,
        done=lambda wildcards: [P.train_done(wildcards.study, run) for run in STUDIES[wildcards.study].runs],
    output:
        P.summary("{study}"),
    log:
        P.log("summarize", "{study}", "summary"),
    localrule: True
    conda:
        "../envs/sisr.yaml"
    params:
        study="{study}",
        tier=CFG["tier"],
        replica_of=replica_of,
        sets=eval_sets,  # (label, degradation) of each CSV, in order: nothing read back from file names
    script:
        "../workflow_scripts/summarize.py"
