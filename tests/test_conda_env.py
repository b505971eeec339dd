"""envs/sisr.yaml (`snakemake --sdm conda`) holds what pyproject.toml asks for, and installs the project itself.

Static checks: conda channels are not reachable in CI, so the environment is never built here (README).
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from helpers.workflow import run_snakemake

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"torch": "pytorch", "snakemake": "snakemake-minimal"}  # PyPI name -> conda-forge/bioconda name
TOOLS = {"python", "pip", "setuptools"}  # what the environment needs to install the project with pip
PROJECT_LINE = "-e ${SISR_WORKFLOW_DIR}"


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _env() -> tuple[dict[str, SpecifierSet], dict[str, SpecifierSet], list[str]]:
    """(conda packages, pip packages, other pip lines) of envs/sisr.yaml, names lower-case."""
    env = yaml.safe_load((ROOT / "envs/sisr.yaml").read_text())
    conda, pip, other = {}, {}, []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for line in dep["pip"]:
                if line.startswith("-"):
                    other.append(line)
                else:
                    req = Requirement(line)
                    pip[req.name.lower()] = req.specifier
        else:
            name, spec = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*(.*)", dep).groups()
            conda[name.lower()] = SpecifierSet(spec)
    return conda, pip, other


def test_every_dependency_of_pyproject_is_in_the_env_file_with_the_same_versions():
    conda, pip, _ = _env()
    missing, differ = [], []
    for line in _pyproject()["dependencies"]:
        req = Requirement(line)
        name = req.name.lower()
        found = pip.get(name, conda.get(CONDA_NAMES.get(name, name)))
        if found is None:
            missing.append(line)
        elif found != req.specifier:
            differ.append(f"{line} vs {found}")
    assert not missing, f"in pyproject.toml, not in envs/sisr.yaml: {missing}"
    assert not differ, f"versions differ between pyproject.toml and envs/sisr.yaml: {differ}"


def test_the_env_file_holds_nothing_pyproject_does_not_ask_for():
    conda, pip, _ = _env()
    wanted = {CONDA_NAMES.get(n, n) for n in (Requirement(d).name.lower() for d in _pyproject()["dependencies"])}
    extra = sorted((set(conda) | set(pip)) - wanted - TOOLS)
    assert not extra, f"in envs/sisr.yaml, not in pyproject.toml: {extra}"
    assert conda["python"] == SpecifierSet(_pyproject()["requires-python"])


def test_the_env_installs_this_project_by_a_path_the_workflow_sets():
    # Snakemake hands conda a copy of the env file (.snakemake/conda/<hash>.yaml) and conda runs pip in the copy's
    # folder, so the project is named by a variable that rules/setup.smk sets to the repository root (the test
    # below shows both with Snakemake itself).
    _, _, other = _env()
    assert other == [PROJECT_LINE]
    assert (ROOT / "Snakefile").is_file() and _pyproject()["name"] == "sisr"  # workflow.basedir is the project


def test_every_rule_with_a_conda_directive_uses_the_env_file():
    envs = set()
    for smk in sorted((ROOT / "rules").glob("*.smk")):
        envs.update(re.findall(r"conda:\s*\n\s*\"([^\"]+)\"", smk.read_text()))
    assert envs == {"../envs/sisr.yaml"}


FAKE_CONDA = '''#!{python}
"""A stand-in for conda: answers Snakemake's checks; `env create` records what it got, as conda's pip step sees it."""
import json, os, sys
from pathlib import Path
import yaml
args = sys.argv[1:]
if args == ["--version"]:
    print("conda 24.9.2")
elif args[:2] == ["info", "--json"]:
    print(json.dumps({{"conda_prefix": os.environ["FAKE_CONDA_BASE"], "platform": "linux-64"}}))
elif args[:2] == ["config", "--get"]:
    print(json.dumps({{"get": {{"channel_priority": "strict"}}}}))
elif args[:2] == ["env", "create"]:
    file = Path(args[args.index("--file") + 1])
    prefix = Path(args[args.index("--prefix") + 1])
    pip = [d for d in yaml.safe_load(file.read_text())["dependencies"] if isinstance(d, dict)][0]["pip"]
    editable = [os.path.expandvars(line[3:]) for line in pip if line.startswith("-e ")]  # pip expands ${{VAR}}
    pip_workdir = file.parent  # conda runs pip there, so relative paths are relative to the copy
    record = {{"file": str(file), "SISR_WORKFLOW_DIR": os.environ.get("SISR_WORKFLOW_DIR"),
              "editable": [str((pip_workdir / e).resolve()) for e in editable]}}
    Path(os.environ["FAKE_CONDA_RECORD"]).write_text(json.dumps(record))
    (prefix / "bin").mkdir(parents=True)
elif args[0] == "clean":
    pass
else:
    sys.exit(f"fake conda: unexpected {{args}}")
'''


def test_snakemake_sdm_conda_hands_conda_a_copy_and_pip_installs_this_checkout(tmp_path):
    """`--sdm conda --conda-create-envs-only` with a stand-in conda: what conda would install, from where."""
    import json
    import sys

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "conda"
    fake.write_text(FAKE_CONDA.format(python=sys.executable))
    fake.chmod(0o755)
    work = tmp_path / "work"
    record = tmp_path / "record.json"
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "FAKE_CONDA_BASE": str(tmp_path / "base"), "FAKE_CONDA_RECORD": str(record)}
    env.pop("SISR_WORKFLOW_DIR", None)
    res = run_snakemake("--sdm", "conda", "--conda-create-envs-only", "--config", f"studies_dir={ROOT / 'studies'}",
                        directory=work, cores=1, configfiles=[ROOT / "config.yaml"], cwd=tmp_path, env=env, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    got = json.loads(record.read_text())
    assert Path(got["file"]).parent == work / ".snakemake/conda"  # a copy: a relative path would point in there
    assert got["SISR_WORKFLOW_DIR"] == str(ROOT.resolve())
    assert got["editable"] == [str(ROOT.resolve())]
