#!/usr/bin/env bash
# Start a single-node SLURM cluster on 127.0.0.1 (munged, slurmctld, slurmd; no systemd) for tests/test_slurm.py.
#
#   tests/slurm/start_slurm.sh [--install]     # --install: apt-get the Debian packages when missing
#   tests/slurm/stop_slurm.sh                  # stops what this script started, by PID
#
# SISR_SLURM_DIR (default /tmp/sisr-slurm) holds slurm.conf, gres.conf, the fake GPU devices, daemon state,
# logs and pid files; it is wiped on every start. /etc/slurm/slurm.conf becomes a link to its slurm.conf,
# because the SLURM executor plugin strips SLURM_CONF from the job environment.
#
# Exit status: 0 = the node is idle and accepts jobs; 77 = SLURM cannot run here (not root, no packages and
# no apt-get, another SLURM already configured or running): the test skips; anything else = a failure (see the
# daemon logs in SISR_SLURM_DIR).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
state=${SISR_SLURM_DIR:-/tmp/sisr-slurm}
packages=(slurmctld slurmd slurm-client munge)
install=no
[[ ${1:-} == --install ]] && install=yes

skip() { echo "start_slurm: cannot run SLURM here: $*" >&2; exit 77; }
fail() { echo "start_slurm: FAILED: $*" >&2; exit 1; }
say() { echo "start_slurm: $*" >&2; }

[[ $(id -u) -eq 0 ]] || skip "needs root (starts the daemons as root and links /etc/slurm/slurm.conf)"

# --- packages ------------------------------------------------------------------------------------------
have_all() { command -v slurmctld && command -v slurmd && command -v sbatch && command -v munged; } >/dev/null
if ! have_all; then
    [[ $install == yes ]] || skip "SLURM is not installed (run with --install to apt-get ${packages[*]})"
    command -v apt-get >/dev/null || skip "SLURM is not installed and there is no apt-get"
    say "installing ${packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt_install() { apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null; }
    apt_install || { apt-get update -qq >/dev/null && apt_install; } || skip "apt-get install ${packages[*]} failed"
    have_all || skip "packages installed but slurmctld/slurmd/sbatch/munged not found"
fi

# --- refuse to touch a SLURM that is not ours -------------------------------------------------------------
"$here/stop_slurm.sh" >/dev/null 2>&1 || true   # a previous run of ours (pid files in $state)
running() { grep -qx "$1" /proc/[0-9]*/comm 2>/dev/null; }   # is a process of this name running (no procps needed)
if running slurmctld || running slurmd; then
    skip "a slurmctld/slurmd that this script did not start is running"
fi
if [[ -e /etc/slurm/slurm.conf || -L /etc/slurm/slurm.conf ]]; then
    [[ -L /etc/slurm/slurm.conf && $(readlink /etc/slurm/slurm.conf) == "$state/slurm.conf" ]] \
        || skip "/etc/slurm/slurm.conf exists and is not a link made by this script"
fi

# --- state directory and configuration ---------------------------------------------------------------------
host=$(hostname -s)
mkdir -p "$state"
rm -rf "$state/slurmctld" "$state/slurmd" "$state"/*.log "$state"/*.pid "$state"/fakegpu*
mkdir -p "$state/slurmctld" "$state/slurmd"
for f in slurm.conf gres.conf; do
    sed -e "s|@HOST@|$host|g" -e "s|@STATE@|$state|g" "$here/$f.in" >"$state/$f"
done
for i in 0 1 2 3; do   # count-only GPUs: character devices cloned from /dev/null
    mknod "$state/fakegpu$i" c 1 3 2>/dev/null || skip "mknod $state/fakegpu$i failed (no CAP_MKNOD?)"
done
mkdir -p /etc/slurm
ln -sfn "$state/slurm.conf" /etc/slurm/slurm.conf
export SLURM_CONF=$state/slurm.conf

# --- munge: reuse a working munged, else start one as the munge user -----------------------------------------
if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    say "using the munged that is already running"
else
    install -d -o munge -g munge -m 0755 /run/munge
    install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge /etc/munge
    if [[ ! -s /etc/munge/munge.key ]]; then
        runuser -u munge -- mungekey --create --keyfile=/etc/munge/munge.key
    fi
    runuser -u munge -- munged --force
    for _ in $(seq 50); do [[ -s /run/munge/munged.pid ]] && break; sleep 0.1; done
    cp /run/munge/munged.pid "$state/munged.pid"   # ours: stop_slurm.sh stops it
    munge -n | unmunge >/dev/null || fail "munged does not answer"
fi

# --- slurm daemons (both daemonise and write the pid files named in slurm.conf) -----------------------------
slurmctld -c -f "$SLURM_CONF" || fail "slurmctld did not start: $(tail -5 "$state/slurmctld.log" 2>/dev/null)"
slurmd -f "$SLURM_CONF" || fail "slurmd did not start: $(tail -5 "$state/slurmd.log" 2>/dev/null)"

for _ in $(seq 120); do
    node_state=$(sinfo -h -N -o %T 2>/dev/null | sort -u || true)
    [[ $node_state == idle ]] && { say "node $host is idle ($state)"; exit 0; }
    sleep 0.5
done
say "node state after 60 s: '${node_state:-}'"
tail -20 "$state/slurmctld.log" "$state/slurmd.log" >&2 || true
fail "the node did not become idle"
