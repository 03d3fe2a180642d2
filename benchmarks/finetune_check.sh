#!/usr/bin/env bash
# The fine-tuning checks of issue 3 on the project's shared data (not part of `make test`):
#   1. the shipped tiny discriminator vs the same architecture from random weights, sentiment,
#      3 seeds each (pretraining must buy >= 3 accuracy points, medians);
#   2. a tiny ELECTRA (preset PRESET, default tiny-budget) pretrained for MINUTES (default 20) on
#      ../shared/data/corpus, fine-tuned on
#      each of sentiment, regression, ner and qa, and (sentiment) against its random-init twin.
# Usage: benchmarks/finetune_check.sh [OUT] ; env: MINUTES, SEEDS (default 1,2,3), SHARED, and
# EXTRA (more finetune options, e.g. EXTRA="--max-train-examples 100 --epochs 1" for a smoke run)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/finetune-check}
MINUTES=${MINUTES:-20}
PRESET=${PRESET:-tiny-budget}
SEEDS=${SEEDS:-1,2,3}
SHARED=${SHARED:-../shared/data}
E=.venv/bin/electra
EXTRA=${EXTRA:-}
SHIPPED=$($E demo --shipped-model-path)
mkdir -p "$OUT"

for init in pretrained random; do
  $E finetune --model "$SHIPPED" --task classification --data "$SHARED/tasks/sentiment" \
     --out "$OUT/shipped-sentiment-$init" --init "$init" --seeds "$SEEDS" --no-progress $EXTRA
done

$E prepare "$SHARED/corpus" --out "$OUT/corpus"
$E pretrain --data "$OUT/corpus" --out "$OUT/tiny" --preset "$PRESET" --max-minutes "$MINUTES" --no-progress
for task in sentiment:classification regression:regression ner:tagging qa:qa; do
  name=${task%%:*}; kind=${task##*:}
  $E finetune --model "$OUT/tiny" --task "$kind" --data "$SHARED/tasks/$name" --out "$OUT/tiny-$name" \
     --no-progress $EXTRA
done
$E finetune --model "$OUT/tiny" --task classification --data "$SHARED/tasks/sentiment" \
   --out "$OUT/tiny-sentiment-random" --init random --seeds "$SEEDS" --no-progress $EXTRA
$E finetune --model "$OUT/tiny" --task classification --data "$SHARED/tasks/sentiment" \
   --out "$OUT/tiny-sentiment-seeds" --seeds "$SEEDS" --no-progress $EXTRA
.venv/bin/python benchmarks/summarize_finetune.py "$OUT"
