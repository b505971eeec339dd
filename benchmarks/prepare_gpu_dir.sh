#!/usr/bin/env bash
# Prepare what benchmarks/gpu_session.sh needs on a GPU machine without network, in the repository root:
#   .gpu/  the package, benchmarks, checks, configs, schemas of THIS checkout + data/T91, data/benchmark/{Set5,Set14}
#   .whl/  wheels of the packages the GPU image lacks (jsonschema and its dependencies; Python 3.12, x86_64)
# Both are ignored by git (.git/info/exclude). Usage, from the repository root:
#   bash benchmarks/prepare_gpu_dir.sh [DATASETS_DIR]      (default ../shared/datasets)
# then, on the GPU machine (carry .gpu and .whl):
#   python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
#   OUT=<dir> LIMIT=470 bash .gpu/benchmarks/gpu_session.sh
set -euo pipefail
DATA=${1:-../shared/datasets}
for d in /.gpu/ /.whl/; do grep -qxF "$d" .git/info/exclude 2>/dev/null || echo "$d" >> .git/info/exclude; done
rm -rf .gpu && mkdir -p .gpu/data/benchmark .whl
cp -r src benchmarks checks configs schemas .gpu/
cp -r "$DATA/T91" .gpu/data/
cp -r "$DATA/benchmark/Set5" "$DATA/benchmark/Set14" .gpu/data/benchmark/
find .gpu -name __pycache__ -prune -exec rm -rf {} +
git rev-parse HEAD > .gpu/COMMIT
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any \
  -d .whl jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0 rpds-py==2026.9.1
du -sh .gpu .whl
