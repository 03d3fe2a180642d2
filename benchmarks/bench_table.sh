#!/usr/bin/env bash
# The README's performance table: `electra bench` for ELECTRA and MLM, fp32 and bf16, with the
# default glibc allocator and with one tuned to keep freed memory (no page faults on the large
# per-step buffers). Usage: benchmarks/bench_table.sh [OUT_DIR] (env: PRESET, BATCH, SEQ, REPEATS).
set -euo pipefail
out=${1:-bench-results}
preset=${PRESET:-small}; batch=${BATCH:-32}; seq=${SEQ:-128}; repeats=${REPEATS:-8}
electra=${ELECTRA:-.venv/bin/electra}
tuned="glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=17179869184"
mkdir -p "$out"
for allocator in default tuned; do
  for objective in electra mlm; do
    for dtype in fp32 bf16; do
      name="$out/$preset-$seq-$objective-$dtype-$allocator.json"
      if [ "$allocator" = tuned ]; then export GLIBC_TUNABLES=$tuned; else unset GLIBC_TUNABLES; fi
      "$electra" bench --preset "$preset" --batch-size "$batch" --seq-len "$seq" --dtype "$dtype" \
        --objective "$objective" --repeats "$repeats" --out "$name" >&2
    done
  done
done
unset GLIBC_TUNABLES
python3 - "$out" <<'PY'
import json, pathlib, sys
rows = [json.loads(p.read_text()) for p in sorted(pathlib.Path(sys.argv[1]).glob("*.json"))]
print("| objective | dtype | allocator | baseline tok/s | ours tok/s | ratio | ours MFU | baseline MFU | peak | ours / baseline peak MiB |")
print("|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    alloc = "tuned" if r.get("glibc_tunables") else "default"
    mem = r.get("ours_peak_memory_mb"), r.get("baseline_peak_memory_mb")
    print(f"| {r['objective']} | {r['dtype']} | {alloc} | {r['baseline_tokens_per_s']:.0f} | {r['ours_tokens_per_s']:.0f} | "
          f"{r['ratio']:.2f}x | {r['mfu']:.0%} | {r['baseline_mfu']:.0%} | {r['peak_gflops']:.0f} GFLOP/s | "
          f"{mem[0]:.0f} / {mem[1]:.0f} |")
PY
