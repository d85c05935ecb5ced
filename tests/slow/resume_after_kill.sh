#!/usr/bin/env bash
# kill -9 in the middle of training, then --resume: the per-step losses after the resume must
# equal those of an uninterrupted run exactly. Usage: resume_after_kill.sh CFORMER_BINARY WORKDIR
set -euo pipefail
bin="$1"
work="$2"
rm -rf "$work" && mkdir -p "$work"
head -c 200000 "${CFORMER_SOURCE_DIR:-.}/data/kjv.txt" > "$work/text.txt" 2>/dev/null ||
  { echo "resume test: data/kjv.txt is missing (run scripts/setup.sh)"; exit 1; }
common=(train gpt --data "$work/text.txt" --preset small --steps 100 --batch 8 --lr 3e-3
        --warmup 5 --eval-every 1000 --checkpoint-every 10 --log-every 5 --no-progress --seed 7)
"$bin" --threads 2 "${common[@]}" --out "$work/full" > /dev/null

"$bin" --threads 2 "${common[@]}" --out "$work/killed" > /dev/null &
pid=$!
# Wait until the checkpoint of step 20 exists and training has gone past it, then kill -9.
for _ in $(seq 1 9000); do
  if [ -f "$work/killed/metrics.jsonl" ] && grep -q '"step":25,' "$work/killed/metrics.jsonl"; then break; fi
  sleep 0.02
done
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
grep -q '"step":25,' "$work/killed/metrics.jsonl" || { echo "resume test: training never reached step 25"; exit 1; }
grep -q '"step":100,' "$work/killed/metrics.jsonl" && { echo "resume test: the run finished before the kill"; exit 1; }
ls "$work/killed"/*.tmp.* 2>/dev/null && { echo "resume test: a temporary checkpoint was left behind"; exit 1; }

"$bin" --threads 2 "${common[@]}" --out "$work/killed" --resume > /dev/null

# The last record of each step wins (steps after the checkpoint were logged twice).
losses() { /usr/bin/python3 - "$1" <<'PY'
import json, sys
last = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "loss" in r:
        last[r["step"]] = r["loss"]
for s in sorted(last):
    print(s, repr(last[s]))
PY
}
diff <(losses "$work/full/metrics.jsonl") <(losses "$work/killed/metrics.jsonl")
# The loss curve of the resumed run covers the whole run, so it equals the uninterrupted one.
cmp "$work/full/loss.svg" "$work/killed/loss.svg"
echo "resume test: 100 per-step losses and the loss curve identical after kill -9 and --resume"
