#!/usr/bin/env bash
# Stop the single-node SLURM that start_slurm.sh started: cancel its jobs, then stop slurmd, slurmctld and
# (if start_slurm.sh started it) munged, each by the PID in its pid file under SISR_SLURM_DIR. Removes the
# /etc/slurm/slurm.conf link if it points there. Safe to run twice.
set -uo pipefail

state=${SISR_SLURM_DIR:-/tmp/sisr-slurm}
export SLURM_CONF=$state/slurm.conf

# stop_pid <pid file> <expected command name>: TERM, wait up to 10 s, then KILL; skips a reused PID
stop_pid() {
    local file=$1 name=$2 pid
    [[ -s $file ]] || return 0
    pid=$(<"$file")
    if [[ $pid =~ ^[0-9]+$ && $(cat "/proc/$pid/comm" 2>/dev/null) == "$name" ]]; then
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    fi
    rm -f "$file"
}

if [[ -s $state/slurmctld.pid ]] && command -v squeue >/dev/null; then
    jobs=$(squeue -h -o %A 2>/dev/null)
    if [[ -n $jobs ]]; then
        # shellcheck disable=SC2086  # one job id per word
        scancel --full --signal=KILL $jobs 2>/dev/null
        for _ in $(seq 50); do [[ -z $(squeue -h -t running,completing -o %A 2>/dev/null) ]] && break; sleep 0.2; done
    fi
fi
stop_pid "$state/slurmd.pid" slurmd
stop_pid "$state/slurmctld.pid" slurmctld
stop_pid "$state/munged.pid" munged
if [[ -L /etc/slurm/slurm.conf && $(readlink /etc/slurm/slurm.conf) == "$state/slurm.conf" ]]; then
    rm -f /etc/slurm/slurm.conf
fi
exit 0
