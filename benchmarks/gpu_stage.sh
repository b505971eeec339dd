# Sourced by the time-boxed GPU session scripts (gpu_session.sh, gpu_session_checks.sh); needs LIMIT, LOG and OUT.
# stage NAME MAX_SECONDS COMMAND...: run COMMAND for at most MAX_SECONDS (and within LIMIT seconds of the session's
# start), its output appended to LOG; one line per stage in OUT/stages.csv (name, exit status, seconds).
stage() {
    local name=$1 secs=$2 left
    shift 2
    left=$((LIMIT - SECONDS))
    ((secs > left)) && secs=$left
    if ((secs < 10)); then
        echo "## $name skipped: ${left} s left of ${LIMIT}" | tee -a "$LOG"
        return
    fi
    echo "## $name (at most ${secs} s; started at ${SECONDS} s)" | tee -a "$LOG"
    local t0=$SECONDS
    timeout -k 5 "$secs" "$@" >>"$LOG" 2>&1
    local rc=$?
    echo "## $name exit ${rc} after $((SECONDS - t0)) s (at ${SECONDS} s)" | tee -a "$LOG"
    echo "$name,$rc,$((SECONDS - t0))" >>"$OUT/stages.csv"
}
