"""Rule prepare_skimage: the demo photographs bundled with scikit-image -> HR PNGs + MATLAB-bicubic LR."""
from sisr.workflow.jobs import job_log, prepare_skimage_job

with job_log(snakemake.log[0]):
    prepare_skimage_job(root=snakemake.params.root, marker=snakemake.output[0])
