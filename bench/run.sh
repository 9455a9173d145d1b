#!/usr/bin/env bash
# Record a benchmark run into bench/results/: results.json, one PNG per chart,
# and summary.txt (the table the command prints); then the side-by-side run
# against plain python-socketio and Node into bench/results/side_by_side/.
# Run from anywhere:
#     bash bench/run.sh            # both, full: a few minutes on 2 cores
#     bash bench/run.sh --quick    # seconds, to check that everything works
# Use the project's virtualenv: PYTHON=/path/to/venv/bin/python bash bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
mkdir -p bench/results
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$PYTHON" -m chat_lib bench "$@" --out bench/results | tee bench/results/summary.txt
"$PYTHON" bench/side_by_side.py "$@"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
