# Data: downloads (local rules: they run on the login node in cluster mode), extraction, embedded and derived
# datasets, and the decoded uint8 caches that training reads. Archives are verified against published
# checksums (sisr/data/sources.py); a partial or unverified file never takes a final name, and the extract job
# checks every archive again before unpacking it (one placed in downloads/ by hand too). A download retries
# network errors itself (resuming the partial file), so the rule has no Snakemake `retries`: a failed download
# (e.g. offline) is reported once, in one line.


rule download:
    output:
        f"{DATA}/downloads/{{archive}}",
    log:
        f"{LOGS}/download/{{archive}}.log",
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
        f"{DATA}/downloads/{{archive}}",
    output:
        f"{DATA}/datasets/{{dataset}}/.{{archive}}.complete",
    log:
        f"{LOGS}/extract/{{dataset}}/{{archive}}.log",
    localrule: True
    conda:
        "../envs/sisr.yaml"
    script:
        "../workflow_scripts/extract.py"


rule dataset_ready:
    input:
        dataset_archives,
    output:
        f"{DATA}/datasets/{{dataset}}/ready.json",
    log:
        f"{LOGS}/dataset_ready/{{dataset}}.log",
    wildcard_constraints:
        dataset="div2k|flickr2k|df2k|benchmark",
    localrule: True
    conda:
        "../envs/sisr.yaml"
    script:
        "../workflow_scripts/dataset_ready.py"


rule prepare_skimage:
    output:
        f"{DATA}/datasets/skimage/ready.json",
    log:
        f"{LOGS}/prepare/skimage.log",
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
        f"{DATA}/datasets/{{derived}}/ready.json",
    log:
        f"{LOGS}/build_derived/{{derived}}.log",
    wildcard_constraints:
        derived="residual_sweep|rrdb_gan|inverted_unet",
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
        f"{DATA}/cache/{{dataset}}/{{split}}/x{{scale}}_{{channels}}/manifest.json",
    log:
        f"{LOGS}/build_cache/{{dataset}}_{{split}}_x{{scale}}_{{channels}}.log",
    conda:
        "../envs/sisr.yaml"
    params:
        dataset=dataset_adapter_of,
        split="{split}",
        scale="{scale}",
        channels="{channels}",
        root=dataset_root_of,
        on_bad_image=CFG["on_bad_image"],
    script:
        "../workflow_scripts/build_cache.py"


rule local_dataset:
    output:
        f"{DATA}/datasets/{{local}}/ready.json",
    log:
        f"{LOGS}/local_dataset/{{local}}.log",
    wildcard_constraints:
        local="|".join(LOCAL_DATASETS) or "^$",
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
