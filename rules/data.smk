# Data: downloads (local rules: they run on the login node in cluster mode), extraction, embedded and derived
# datasets, and the decoded uint8 caches that training and evaluation read.


rule prepare_skimage:
    output:
        f"{DATA}/datasets/skimage/ready.json",
    params:
        root=f"{DATA}/datasets/skimage",
    localrule: True
    log:
        f"{LOGS}/prepare/skimage.log",
    script:
        "../workflow_scripts/prepare_skimage.py"


rule build_cache:
    input:
        f"{DATA}/datasets/{{dataset}}/ready.json",
    output:
        f"{DATA}/cache/{{dataset}}/{{split}}/x{{scale}}_{{channels}}/manifest.json",
    params:
        dataset="{dataset}",
        split="{split}",
        scale="{scale}",
        channels="{channels}",
        root=f"{DATA}/datasets/{{dataset}}",
        on_bad_image=CFG["on_bad_image"],
    log:
        f"{LOGS}/build_cache/{{dataset}}_{{split}}_x{{scale}}_{{channels}}.log",
    script:
        "../workflow_scripts/build_cache.py"
