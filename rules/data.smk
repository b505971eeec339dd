# Data: downloads (local rules: they run on the login node in cluster mode), extraction, embedded and derived
# datasets, and the decoded uint8 caches that training reads. Archives are verified against published
# checksums (sisr/data/sources.py); a partial or unverified file never takes a final name, and the extract job
# checks every archive again before unpacking it (one placed in downloads/ by hand too). A download retries
# network errors itself (resuming the partial file), so the rule has no Snakemake `retries`: a failed download
# (e.g. offline) is reported once, in one line. Every rule here has DATA_PRIORITY (rules/common.smk): a free core
# takes data preparation before any training or evaluation; left to input size, the quick-tier rehearsal built
# residual_sweep's validation cache at 561 s of 873 s, and only then trained its largest model.


rule download:
    output:
        P.download("{archive}"),
    log:
        P.data_log("download", "{archive}"),
    priority: DATA_PRIORITY
    localrule: True
    conda:
        "../envs/sisr.yaml"
    params:
        mirror=CFG["mirror"],
        overrides=CFG["archives"],
        source=archive_source,
    message:
        "download {wildcards.archive}: {params.source}"
    script:
        "../workflow_scripts/download.py"


rule extract:
    input:
        P.download("{archive}"),
    output:
        P.extraction_marker("{dataset}", "{archive}"),
    log:
        P.data_log("extract", "{dataset}/{archive}"),
    priority: DATA_PRIORITY
    localrule: True
    conda:
        "../envs/sisr.yaml"
    script:
        "../workflow_scripts/extract.py"


rule dataset_ready:
    input:
        dataset_archives,
    output:
        P.dataset_ready("{dataset}"),
    log:
        P.data_log("dataset_ready", "{dataset}"),
    wildcard_constraints:
        dataset="div2k|flickr2k|df2k|benchmark",
    priority: DATA_PRIORITY
    localrule: True
    conda:
        "../envs/sisr.yaml"
    script:
        "../workflow_scripts/dataset_ready.py"


rule prepare_skimage:
    output:
        P.dataset_ready("skimage"),
    log:
        P.data_log("prepare", "skimage"),
    priority: DATA_PRIORITY
    localrule: True
    conda:
        "../envs/sisr.yaml"
    params:
        root=parent_of_output,
    script:
        "../workflow_scripts/prepare_skimage.py"


rule build_derived:
    input:
        derived_sources,
    output:
        P.dataset_ready("{derived}"),
    log:
        P.data_log("build_derived", "{derived}"),
    wildcard_constraints:
        derived="residual_sweep|rrdb_gan|inverted_unet",
    priority: DATA_PRIORITY
    conda:
        "../envs/sisr.yaml"
    params:
        name="{derived}",
        data_dir=grandparent_of_output,
        on_bad_image=CFG["on_bad_image"],
        derived=derived_params,
    script:
        "../workflow_scripts/build_derived.py"


rule build_cache:
    input:
        dataset_ready_file,
    output:
        P.cache_manifest("{dataset}", "{split}", "{scale}", "{channels}", "{degdir}"),
    log:
        P.data_log("build_cache", "{degdir}{dataset}_{split}_x{scale}_{channels}"),
    priority: DATA_PRIORITY
    conda:
        "../envs/sisr.yaml"
    params:
        dataset=dataset_adapter_of,
        split="{split}",
        scale="{scale}",
        channels="{channels}",
        degradation=cache_degradation,
        degradation_modules=CFG["degradation_modules"],
        root=dataset_root_of,
        on_bad_image=CFG["on_bad_image"],
    script:
        "../workflow_scripts/build_cache.py"


rule local_dataset:
    output:
        P.dataset_ready("{local}"),
    log:
        P.data_log("local_dataset", "{local}"),
    wildcard_constraints:
        local="|".join(LOCAL_DATASETS) or "^$",
    priority: DATA_PRIORITY
    localrule: True
    conda:
        "../envs/sisr.yaml"
    params:
        adapter=local_adapter,
        root=local_root,
    script:
        "../workflow_scripts/local_dataset.py"


rule download_all:
    input:
        needed_downloads(),
    localrule: True
    message:
        download_summary()


ruleorder: local_dataset > prepare_skimage > build_derived > dataset_ready
