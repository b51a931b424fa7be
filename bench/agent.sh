# shellcheck shell=sh disable=SC2154 # tmp is set by the sourcing script
# agent.sh - sourced by run-all.sh and lock.sh (not run): one way to start
# an agent in the background for a benchmark, wait until it answers, stop
# it, and clean up after the script, so the two cannot drift apart.
#
# The sourcing script sets, before calling these:
#   AGENT    the loginrisk-agent binary
#   LOADGEN  the loginrisk-loadgen binary (its Health/Check is the probe)
#   TARGET   the address the agent listens on
#   tmp      the script's temporary directory (agent.log goes there; the
#            cleanup removes it)
# and then `trap bench_cleanup EXIT INT TERM`.

AGENT_PID=""

# agent_start ARG...: starts "$AGENT" ARG... (its output appended to
# $tmp/agent.log) and waits until Health/Check answers SERVING, polling
# every 0.2 s for up to 20 s; exits 1 with the log if the agent dies or
# never answers.
agent_start() {
    "$AGENT" "$@" >>"$tmp/agent.log" 2>&1 &
    AGENT_PID=$!
    i=0
    until "$LOADGEN" --target "$TARGET" --method health --duration 0.1 \
        --warmup 0 --inflight 1 --connections 1 >/dev/null 2>&1; do
        i=$((i + 1))
        if [ "$i" -ge 100 ] || ! kill -0 "$AGENT_PID" 2>/dev/null; then
            echo "agent did not start:" >&2
            cat "$tmp/agent.log" >&2
            exit 1
        fi
        sleep 0.2
    done
}

# agent_stop: SIGTERM (the agent drains) and waits, saying how it exited.
agent_stop() {
    echo "# stopping agent $AGENT_PID (SIGTERM drains)"
    kill -TERM "$AGENT_PID"
    if wait "$AGENT_PID"; then
        echo "# agent exited 0"
    else
        echo "# agent exited $?"
    fi
    AGENT_PID=""
}

# agent_kill: kill -9, as a crash would; the caller then checks the state.
agent_kill() {
    kill -KILL "$AGENT_PID"
    wait "$AGENT_PID" 2>/dev/null || true
    AGENT_PID=""
}

# bench_cleanup: on any exit, stops an agent still running and removes $tmp.
bench_cleanup() {
    if [ -n "$AGENT_PID" ]; then
        kill -TERM "$AGENT_PID" 2>/dev/null || true
        wait "$AGENT_PID" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
