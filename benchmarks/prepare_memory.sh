#!/usr/bin/env bash
# Peak resident memory of `electra prepare` on the shared corpus and on 4 copies of it: streaming
# means the second stays close to the first. Usage: benchmarks/prepare_memory.sh [CORPUS_DIR] [WORK_DIR]
set -euo pipefail
corpus=${1:-../shared/data/corpus}
work=${2:-$(mktemp -d)}
electra=${ELECTRA:-.venv/bin/electra}
mkdir -p "$work/x1" "$work/x4"
for f in "$corpus"/*.txt.gz; do
  ln -sf "$(realpath "$f")" "$work/x1/$(basename "$f")"
  for copy in 1 2 3 4; do ln -sf "$(realpath "$f")" "$work/x4/copy$copy-$(basename "$f")"; done
done
peak() {  # peak RSS (MiB) and seconds of one prepare run
  python3 - "$electra" "$@" <<'PY'
import resource, subprocess, sys, time
start = time.time()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"{rss:.0f} {time.time() - start:.0f}")
PY
}
read -r one t1 < <(peak prepare "$work/x1" --out "$work/out1")
read -r four t4 < <(peak prepare "$work/x4" --out "$work/out4")
python3 - "$one" "$four" "$t1" "$t4" <<'PY'
import sys
one, four, t1, t4 = map(float, sys.argv[1:])
print(f"prepare peak RSS: corpus x1 {one:.0f} MiB ({t1:.0f} s), x4 {four:.0f} MiB ({t4:.0f} s), ratio {four / one:.2f}")
PY
