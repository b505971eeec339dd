# Training: one job per (study, run). The job resumes from checkpoint_last.pt if a previous attempt was
# killed or preempted (SIGTERM saves a checkpoint), so `retries` in a profile continue instead of restarting.


rule train:
    input:
        unpack(train_inputs),
    output:
        best=P.checkpoint("{study}", "{run}"),
        history=P.history("{study}", "{run}"),
        done=P.train_done("{study}", "{run}"),
    log:
        P.log("train", "{study}", "{run}"),
    conda:
        "../envs/sisr.yaml"
    resources:
        gpu=train_gpus,
        mem_mb=train_mem_mb,
        runtime=train_runtime,
        cpus_per_task=train_cpus,
    params:
        settings=run_settings,
        out_dir=P.run_dir("{study}", "{run}"),
        device=CFG["device"],
        num_workers=CFG["num_workers"],
        weights_dir=WEIGHTS,
        progress_every_s=CFG["progress_every_s"],
        tensorboard=CFG["tensorboard"],
        weights_checksums=CFG["weights_checksums"],
        max_batches=rehearsal_cap("batches_per_epoch"),
        valid_images=rehearsal_cap("valid_images"),
    script:
        "../workflow_scripts/train.py"
