# Evaluation: every model (baselines and trained runs) on every evaluation set of its study, standard protocol
# (and the study's own protocol columns where it has them). One job per (study, run, evaluation set).


rule evaluate:
    input:
        unpack(eval_inputs),
    output:
        csv=P.eval_csv("{study}", "{run}", "{evalset}", "{scale}"),
        sr=directory(P.sr_dir("{study}", "{run}", "{evalset}", "{scale}")),
    log:
        P.log("evaluate", "{study}", "{run}_{evalset}_x{scale}"),
    conda:
        "../envs/sisr.yaml"
    resources:
        gpu=eval_gpus,
        mem_mb=8000,
        runtime=60,
    params:
        model="{run}",
        study="{study}",
        evalset=eval_dataset_params,
        in_channels=study_in_channels,
        metrics=eval_metrics,
        tier=CFG["tier"],
        device=eval_device,
        weights_dir=WEIGHTS,
        weights_checksums=CFG["weights_checksums"],
        degradation_modules=CFG["degradation_modules"],
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
    conda:
        "../envs/sisr.yaml"
    resources:
        gpu=eval_gpus,
        mem_mb=8000,
        runtime=120,
    params:
        run="{run}",
        study="{study}",
        evalset=valid_dataset_params,
        in_channels=study_in_channels,
        metrics=epoch_eval_metrics,
        tier=CFG["tier"],
        device=eval_device,
        weights_dir=WEIGHTS,
        weights_checksums=CFG["weights_checksums"],
        degradation_modules=CFG["degradation_modules"],
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
