# Training: one job per (study, run). The job resumes from checkpoint_last.pt if a previous attempt was
# killed or preempted (SIGTERM saves a checkpoint), so `retries` in a profile continue instead of restarting.
# priority (train_priority): a free slot takes a training before an evaluation, the largest first. Snakemake
# otherwise prefers the job with the most input bytes, an evaluation (it reads a checkpoint), and small caches
# before large models, so a study's largest training could wait behind the rest and end the run with its own long
# evaluation alone on one core (the quick-tier rehearsal: plain_b24_c612 trained from 615 s of 924 s).


rule train:
    input:
        unpack(train_inputs),
    output:
        best=P.checkpoint("{study}", "{run}"),
        history=P.history("{study}", "{run}"),
        done=P.train_done("{study}", "{run}"),
    log:
        P.log("train", "{study}", "{run}"),
    priority: train_priority
    conda:
        "../envs/sisr.yaml"
    resources:
        gpu=train_gpus,
        mem_mb=train_mem_mb,
        runtime=train_runtime,
        cpus_per_task=train_cpus,
    params:
        job=train_job_record,  # one resolved record (sisr.config.job_settings.TrainJob); logging settings: rules/setup.smk
        out_dir=P.run_dir("{study}", "{run}"),
    script:
        "../workflow_scripts/train.py"
