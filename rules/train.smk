# Training: one job per (study, run). The job resumes from checkpoint_last.pt if a previous attempt was
# killed or preempted (SIGTERM saves a checkpoint), so `retries` in a profile continue instead of restarting.


rule train:
    input:
        unpack(train_inputs),
    output:
        best=f"{RES}/{{study}}/{{run}}/checkpoint_best.pt",
        history=f"{RES}/{{study}}/{{run}}/history.csv",
        done=f"{RES}/{{study}}/{{run}}/train_done.json",
    log:
        f"{TIER_LOGS}/train/{{study}}/{{run}}.log",
    conda:
        "../envs/sisr.yaml"
    resources:
        gpu=train_gpus,
        mem_mb=train_mem_mb,
        runtime=train_runtime,
        cpus_per_task=train_cpus,
    params:
        job=train_job_record,  # one resolved record (sisr.job_settings.TrainJob); logging settings: rules/setup.smk
        out_dir=f"{RES}/{{study}}/{{run}}",
    script:
        "../workflow_scripts/train.py"
