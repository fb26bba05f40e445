#!/usr/bin/env bash
# Runs a command for the Procfile so that a stop signal reaches only its main process.
#
# honcho (and systemd's default KillMode, and some platforms) signal a process's whole group.
# A Celery worker's pool processes sit in that group, and on SIGTERM they die at once, in the
# middle of their task (WorkerLostError), instead of letting the main process's warm shutdown
# wait for them. Here the command runs in a session of its own, out of the signalled group,
# and this script forwards the stop signal to it alone and waits for it to finish.
set -u
setsid "$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null' TERM
trap 'kill -INT "$child" 2>/dev/null' INT
# A trapped signal interrupts the first wait; the second waits for the shutdown to end.
wait "$child"
wait "$child"
