# Pretrained backbones (LPIPS AlexNet/VGG16, VGG19 for perceptual losses, the FID Inception), fetched once,
# hash-verified, into <weights_dir>/hub/checkpoints/ (TORCH_HOME layout). A local rule: on a cluster it runs on
# the login node, and compute jobs only read the cache. Jobs that need a file list it as an input.


rule fetch_weights:
    output:
        P.weight_file("{weights_file}"),
    log:
        P.data_log("fetch_weights", "{weights_file}"),
    priority: DATA_PRIORITY
    localrule: True
    conda:
        "../envs/sisr.yaml"
    params:
        dest=weights_cache_of_output,
        mirror=CFG["mirror"],
        checksums=CFG["weights_checksums"],
    script:
        "../workflow_scripts/fetch_weights.py"


rule fetch_all_weights:
    input:
        all_weight_files(),
    localrule: True
