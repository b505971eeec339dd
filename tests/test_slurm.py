"""Cluster runs through profiles/slurm (issue #7), on a real single-node SLURM started by tests/slurm/.

1. A dry run of the paper tier through the SLURM profile lists every training job with the resources its
   study file declares (gpu, mem_mb, runtime, cpus_per_task); `--set-resources` overrides them.
2. The CI demo config runs to the end through `snakemake --profile profiles/slurm` (its site settings set to
   the test cluster's partition and node feature, as a user edits them) on a local SLURM (slurmctld + slurmd +
   munged on 127.0.0.1, four count-only fake GPUs): every GPU rule is submitted with a
   GPU request (squeue's TRES_PER_JOB), and one training job that gets SIGTERM (`scancel --signal=TERM`)
   mid-training saves its checkpoint, is resubmitted (`--retries 1`) and resumes from the epoch and batch it
   saved instead of starting over.

Test 2 needs root and Debian's SLURM packages (start_slurm.sh --install apt-gets them); it skips, saying why,
where SLURM cannot run. It takes about 2-4 minutes. The trained models are 2-epoch CI models (plumbing only).
"""

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from helpers.workflow import snakemake_cmd
from sisr.config.studies import load_study

ROOT = Path(__file__).resolve().parents[1]
SLURM_SCRIPTS = ROOT / "tests" / "slurm"
PROFILE = ROOT / "profiles" / "slurm"
STUDY = "espcn"
VICTIM = "srcnn"  # the slowest CI run of the study: the one that is sent SIGTERM mid-training
EPOCHS, BATCHES = 2, 80  # per training job; long enough (seconds) to be caught between two epochs

pytestmark = pytest.mark.slurm


def snakemake_command(workdir: Path, configfile: Path, *extra: str, profile: Path = PROFILE) -> list[str]:
    """`snakemake --profile <profile>` on our Snakefile, run in `workdir`, with the profile's site.yaml."""
    return snakemake_cmd(*extra, directory=workdir, profile=profile, configfiles=[profile / "site.yaml", configfile])


def edit_site_settings(folder: Path, settings: dict[str, str]) -> Path:
    """A copy of profiles/slurm in `folder` with its commented SITE SETTINGS lines set, as a user edits them."""
    shutil.copytree(PROFILE, folder)
    text = (folder / "config.yaml").read_text()
    for key, value in settings.items():
        text, n = re.subn(rf"^(\s*)# {key}: \S+", rf"\g<1>{key}: {value}", text, flags=re.M)
        assert n == 1, f"profiles/slurm/config.yaml: expected one commented '# {key}:' site line, found {n}"
    (folder / "config.yaml").write_text(text)
    return folder


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def train_resources(dry_run_output: str) -> dict[tuple[str, str], dict[str, str]]:
    """(study, run) -> resources of each `rule train:` job in a dry run's output."""
    jobs = {}
    for block in dry_run_output.split("\nrule train:")[1:]:
        wildcards = dict(kv.split("=", 1) for kv in re.search(r"wildcards: (.*)", block).group(1).split(", "))
        resources = dict(kv.split("=", 1) for kv in re.search(r"resources: (.*)", block).group(1).split(", "))
        jobs[(wildcards["study"], wildcards["run"])] = resources
    return jobs


def run_dry(tmp_path: Path, config: dict, *extra: str) -> str:
    configfile = write_config(tmp_path / "config.yaml", config)
    proc = subprocess.run(snakemake_command(tmp_path, configfile, "-n", *extra), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


# ------------------------------------------------------------------------------------------------ dry run


def test_paper_dry_run_shows_each_training_jobs_resources(tmp_path):
    studies = sorted(p.stem for p in (ROOT / "studies").glob("*.yaml"))
    output = run_dry(tmp_path, {"tier": "paper", "studies": studies, "studies_dir": str(ROOT / "studies")})
    jobs = train_resources(output)
    print(f"\n{'study':16} {'run':28} resources of the SLURM job")
    for (study, run), res in sorted(jobs.items()):
        print(f"{study:16} {run:28} gpu={res.get('gpu')} cpus_per_task={res.get('cpus_per_task')} "
              f"mem_mb={res.get('mem_mb')} runtime={res.get('runtime')}")
    expected_runs = set()
    for study in studies:
        resolved = load_study(ROOT / "studies" / f"{study}.yaml", "paper")
        for run, settings in resolved.runs.items():
            expected_runs.add((study, run))
            declared = settings.get("resources", {})
            res = jobs.get((study, run), {})
            for ours, theirs in (("gpu", "gpus"), ("mem_mb", "mem_mb"), ("runtime", "runtime"),
                                 ("cpus_per_task", "cpus")):
                assert ours in res, f"{study}/{run}: no {ours} in the dry run's resources {res}"
                if theirs in declared:
                    assert int(res[ours]) == int(declared[theirs]), f"{study}/{run}: {ours}={res[ours]}, study file " \
                                                                    f"says {theirs}: {declared[theirs]}"
            assert int(res["gpu"]) >= 1, f"{study}/{run}: a paper-tier training job requests no GPU"
    assert set(jobs) == expected_runs


def test_set_resources_overrides_the_study_file(tmp_path):
    output = run_dry(tmp_path, {"tier": "paper", "studies": [STUDY], "studies_dir": str(ROOT / "studies")},
                     "--set-resources", "train:runtime=999", "train:mem_mb=12345")
    jobs = train_resources(output)
    assert jobs, "no training job in the dry run"
    for (study, run), res in jobs.items():
        assert (res["runtime"], res["mem_mb"]) == ("999", "12345"), f"{study}/{run}: {res}"


# ------------------------------------------------------------------------------------------------ real SLURM


@pytest.fixture(scope="module")
def slurm_env(tmp_path_factory):
    """A running single-node SLURM (stopped by PID afterwards, also when the test fails); yields its environment."""
    env = {**os.environ, "SISR_SLURM_DIR": str(tmp_path_factory.mktemp("slurm_state"))}
    start = subprocess.run([str(SLURM_SCRIPTS / "start_slurm.sh"), "--install"], env=env, capture_output=True,
                           text=True, timeout=900)
    try:
        if start.returncode == 77:
            pytest.skip(start.stderr.strip().splitlines()[-1])
        assert start.returncode == 0, f"start_slurm.sh failed ({start.returncode}):\n{start.stderr[-3000:]}"
        yield env
    finally:
        subprocess.run([str(SLURM_SCRIPTS / "stop_slurm.sh")], env=env, timeout=300)


def squeue_all(env: dict) -> list[dict[str, str]]:
    """Every job the controller knows (finished ones stay for MinJobAge): id, state, comment (rule + wildcards), GPUs."""
    out = subprocess.run(["squeue", "-h", "-t", "all", "-O", "JobID:|,State:|,Partition:|,Feature:|,tres-per-job:|,"
                          "Comment:"], env=env, capture_output=True, text=True, check=True).stdout
    keys = ("id", "state", "partition", "constraint", "tres", "comment")
    return [dict(zip(keys, (f.strip() for f in line.split("|")))) for line in out.splitlines() if line.strip()]


def wait_for_training(proc: subprocess.Popen, env: dict, log: Path, comment: str, line: str,
                      timeout: float) -> str:
    """The SLURM job id of `comment`'s running job, once its training log shows `line`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"snakemake ended ({proc.returncode}) before {comment} reached '{line}'"
        running = [j["id"] for j in squeue_all(env) if j["comment"] == comment and j["state"] == "RUNNING"]
        if running and log.exists() and line in log.read_text():
            return running[0]
        time.sleep(0.2)
    raise AssertionError(f"{comment} did not reach '{line}' in {timeout} s (log {log})")


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_ci_demo_through_slurm_resumes_a_terminated_training_job(slurm_env, tmp_path):
    study_file = ROOT / "studies" / f"{STUDY}.yaml"
    config = {
        "tier": "ci", "studies": [STUDY], "studies_dir": str(ROOT / "studies"),
        "data_dir": str(tmp_path / "data"), "results_dir": str(tmp_path / "results"),
        "logs_dir": str(tmp_path / "logs"), "weights_dir": str(tmp_path / "weights"), "figures": ["png"],
        # the CI tier declares no GPU (it runs anywhere); here every run asks for one, as the paper tier does
        "train_overrides": {"resources": {"gpus": 1}, "epochs": EPOCHS,
                            "epoch_def": {"kind": "iterations", "n": BATCHES}},
    }
    configfile = write_config(tmp_path / "config.yaml", config)
    # the site settings a user would edit: the CI cluster's non-default partition and its node feature
    profile = edit_site_settings(tmp_path / "profile", {"slurm_partition": "gpu", "constraint": "fakegpu"})
    command = snakemake_command(tmp_path, configfile, "--retries", "1", "--latency-wait", "5",
                                "--slurm-init-seconds-before-status-checks", "5", profile=profile)
    victim_log = tmp_path / "logs" / "ci" / "train" / STUDY / f"{VICTIM}.log"
    with open(tmp_path / "snakemake.out", "w") as out:
        proc = subprocess.Popen(command, cwd=tmp_path, env=slurm_env, stdout=out, stderr=subprocess.STDOUT)
        try:
            killed = wait_for_training(proc, slurm_env, victim_log, f"rule_train_wildcards_{STUDY}_{VICTIM}",
                                       f"epoch 1/{EPOCHS}", timeout=600)
            subprocess.run(["scancel", "--signal=TERM", killed], env=slurm_env, check=True)
            proc.wait(timeout=900)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    output = (tmp_path / "snakemake.out").read_text()
    assert proc.returncode == 0, f"snakemake --profile profiles/slurm failed:\n{output[-5000:]}"

    # The workflow's products are all there.
    spec = yaml.safe_load(study_file.read_text())
    results = tmp_path / "results" / "ci" / STUDY
    expected = [results / "summary.csv", results / "REPORT.md"]
    expected += [results / "tables" / f"{t}.{ext}" for t in spec.get("tables", {}) for ext in ("csv", "md", "tex")]
    expected += [results / "figures" / f"{f}.png" for f in spec.get("figures", {})]
    assert [p for p in expected if not p.is_file()] == []

    # Every GPU rule was submitted with a GPU request; CPU jobs without one.
    jobs = squeue_all(slurm_env)
    print("\nSLURM jobs of the run (squeue -t all):")
    for job in jobs:
        print(f"  {job['id']:>4} {job['state']:10} {job['partition']:4} {job['constraint']:8} {job['tres']:11} "
              f"{job['comment']}")
    assert {(j["partition"], j["constraint"]) for j in jobs} == {("gpu", "fakegpu")}  # the site settings
    trained = set(load_study(study_file, "ci").runs)
    gpu_jobs = [j for j in jobs if j["comment"].startswith("rule_train_")
                or any(j["comment"] == f"rule_evaluate_{STUDY}_wildcards_{STUDY}_{run}" for run in trained)]
    assert len([j for j in gpu_jobs if j["comment"].startswith("rule_train_")]) == len(trained) + 1  # + the retry
    assert [j for j in gpu_jobs if "gpu:1" not in j["tres"]] == []
    assert [j for j in jobs if j not in gpu_jobs and "gpu" in j["tres"]] == []

    # The terminated job saved where it stood; its resubmission resumed from there.
    state = {j["id"]: j["state"] for j in jobs}[killed]
    assert state == "FAILED", f"job {killed} ended {state}: SIGTERM came too late (raise BATCHES) or was not handled"
    killed_log = next((tmp_path / ".snakemake" / "slurm_logs" / "rule_train").rglob(f"{killed}.log"))
    saved = re.search(r"signal 15: saved \S+ at epoch (\d+), batch (\d+)", killed_log.read_text())
    assert saved, f"{killed_log} does not say that SIGTERM saved a checkpoint:\n{killed_log.read_text()[-3000:]}"
    resumed = re.search(r"resuming from epoch (\d+), batch (\d+)", victim_log.read_text())
    assert resumed, f"{victim_log} does not say the run resumed:\n{victim_log.read_text()[-3000:]}"
    print(f"job {killed}: {saved.group(0)}\nresubmitted job: {resumed.group(0)}")
    assert resumed.groups() == saved.groups()
    assert (int(resumed.group(1)), int(resumed.group(2))) > (1, 0), "resumed from the very start"
    done = json.loads((results / VICTIM / "train_done.json").read_text())
    assert (done["epochs_run"], done["iterations"]) == (EPOCHS, EPOCHS * BATCHES)  # ended where a whole run ends
