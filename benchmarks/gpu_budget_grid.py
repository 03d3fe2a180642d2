"""The GPU grid of docs/small-budgets.md ("Five minutes on one GPU"), in one call of at most ~9 minutes.

Six tiny pretraining runs share one GPU (ELECTRA and MLM; generator shape; token-row cap; public-
domain vs whole corpus), then a queue of fine-tuning runs (sentiment for every model and random
initialisation; regression, NER and QA for three of them; sentiment with layer decay 1.0) until
a deadline. Not part of `make test`.

    PD=pd ALL=all TASKS=../shared/data/tasks OUT=grid python benchmarks/gpu_budget_grid.py

PD / ALL: `electra prepare` folders of the four public-domain corpus files and of the whole corpus
(same tokenizer). Env: PRE_FLOPS (6e14), PRE_MIN (4.5), FT_DEADLINE (seconds since the start,
535), FT_PAR (parallel fine-tuning runs, 10), RUNS (work folder, /tmp/runs), SMOKE=1 (a few CPU
steps, to check the script), SET=scale (instead of the grid: only the `tiny-budget` ELECTRA and MLM
pair on PD, for as long as PRE_FLOPS / PRE_MIN allow, then sentiment as pretrained and with
`--reinit-layers 2`, and random initialisation; e.g. PRE_FLOPS=5e15 PRE_MIN=6 FT_DEADLINE=560).
OUT gets results.tar.gz (logs, metrics, results), driver.log and the fp16 pairs of the ELECTRA runs
in PACKED (three in the grid, one with SET=scale).
"""

import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

T0 = time.time()
OUT = Path(os.environ["OUT"])
RUNS = Path(os.environ.get("RUNS", "/tmp/runs"))
SMOKE = os.environ.get("SMOKE") == "1"
PY = sys.executable
DEV = "cpu" if SMOKE else "cuda"
PRE_FLOPS = os.environ.get("PRE_FLOPS", "6e14")
PRE_MIN = os.environ.get("PRE_MIN", "4.5")
FT_DEADLINE = float(os.environ.get("FT_DEADLINE", "535"))
FT_PAR = int(os.environ.get("FT_PAR", "10"))
X = Path(os.environ.get("XDIR", "/tmp/x"))
X.mkdir(parents=True, exist_ok=True)
TASKS = Path(os.environ.get("TASKS", "../shared/data/tasks"))
PD = os.environ.get("PD", "pd")
ALL = os.environ.get("ALL", "all")


def log(msg):
    line = f"[{time.time() - T0:6.1f}s] {msg}"
    print(line, flush=True)
    with open(X / "driver.log", "a") as f:
        f.write(line + "\n")


COMMON = [
    "--preset",
    "tiny",
    "--model.init_scheme",
    "local",
    "--train.device",
    DEV,
    "--train.batch_size",
    "128",
    "--train.lr",
    "1e-3",
    "--train.warmup_steps",
    "500",
    "--max-steps",
    "1000000",
    "--train.save_every",
    "1000000",
    "--train.log_every",
    "100",
    "--no-progress",
]
if SMOKE:
    COMMON += ["--max-steps", "3", "--train.batch_size", "4"]
else:
    COMMON += ["--train.dtype", "bf16", "--max-flops", PRE_FLOPS, "--max-minutes", PRE_MIN]
G2 = ["--recipe.generator_fraction", "1", "--recipe.generator_layers", "2"]
CAP = ["--recipe.embedding_norm_cap", "0.2"]
SCALE = os.environ.get("SET") == "scale"
GRID = {
    "E_pd_cap_g2": ["--data", PD, *G2, *CAP],
    "E_pd_cap_q": ["--data", PD, *CAP],
    "M_pd_cap": ["--data", PD, "--objective", "mlm", *CAP],
    "E_pd_g2": ["--data", PD, *G2],
    "E_all_cap_g2": ["--data", ALL, *G2, *CAP],
    "M_all_cap": ["--data", ALL, "--objective", "mlm", *CAP],
}
# tiny + local start + cap 0.2 with the 1/4 generator is the `tiny-budget` preset
ARMS = {"E_pd_cap_q": GRID["E_pd_cap_q"], "M_pd_cap": GRID["M_pd_cap"]} if SCALE else GRID
PACKED = ("E_pd_cap_q",) if SCALE else ("E_pd_cap_g2", "E_pd_cap_q", "E_all_cap_g2")


def launch(cmd: list[str], log_file: Path) -> subprocess.Popen:
    """Start ``cmd`` with its output in ``log_file``; the command line goes to cmds.txt."""
    with open(X / "cmds.txt", "a") as f:
        f.write(" ".join(cmd) + "\n")
    with open(log_file, "w") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)


def pretrain():
    procs = {}
    for name, args in ARMS.items():
        cmd = [PY, "-m", "electra", "pretrain", "--out", str(RUNS / name), *COMMON, *args]
        procs[name] = launch(cmd, X / f"pre_{name}.log")
    log(f"pretraining {len(procs)} arms")
    limit = 60 * float(PRE_MIN) + 75
    while any(p.poll() is None for p in procs.values()) and time.time() - T0 < limit:
        time.sleep(2)
    for name, p in procs.items():
        if p.poll() is None:
            p.kill()
            log(f"killed {name}")
        log(f"{name}: rc {p.wait()}")
        mf = RUNS / name / "metrics.jsonl"
        if mf.exists() and mf.read_text().strip():
            last = json.loads(mf.read_text().strip().splitlines()[-1])
            keep = (
                "step",
                "flops",
                "disc_loss_ratio",
                "disc_recall",
                "disc_precision",
                "gen_acc",
                "mlm_acc",
                "tokens_per_s",
                "elapsed_s",
                "lr",
            )
            log(
                f"{name} last: "
                + ", ".join(f"{k}={last[k]:.4g}" for k in keep if isinstance(last.get(k), (int, float)))
            )
        for f in ("metrics.jsonl", "run.json"):
            if (RUNS / name / f).exists():
                shutil.copy(RUNS / name / f, X / f"{name}_{f}")


def ft_job(name: str, run: str, task: str, kind: str, *extra: str, random_init: bool = False) -> tuple:
    """One fine-tuning run: ``name`` and its ``electra finetune`` arguments."""
    init = ["--init", "random"] if random_init else []
    return name, ["--model", str(RUNS / run), *init, "--task", kind, "--data", str(TASKS / task), *extra]


def ft_jobs():
    """Sentiment for every model and random initialisation first; then (grid) the other tasks for
    three models and sentiment with layer decay 1.0, or (scale) sentiment with --reinit-layers 2."""
    ok = [n for n in ARMS if any((RUNS / n / f / "model.safetensors").exists() for f in ("discriminator", "mlm"))]
    base = next((n for n in ok if n.startswith("E_")), None)
    jobs = [ft_job(f"sent_{n}", n, "sentiment", "classification") for n in ok]
    if base:
        jobs.append(ft_job("sent_random", base, "sentiment", "classification", random_init=True))
    if SCALE:
        return jobs + [ft_job(f"sentR2_{n}", n, "sentiment", "classification", "--reinit-layers", "2") for n in ok]
    pick = [n for n in ("E_pd_cap_g2", "E_all_cap_g2", "M_all_cap") if n in ok]
    for task, kind in (("regression", "regression"), ("ner", "tagging"), ("qa", "qa")):
        jobs += [ft_job(f"{task}_{n}", n, task, kind) for n in pick]
        if base:
            jobs.append(ft_job(f"{task}_random", base, task, kind, random_init=True))
    flat = ("--layer-decay", "1.0")
    jobs += [
        ft_job(f"sentLD1_{n}", n, "sentiment", "classification", *flat)
        for n in ("E_all_cap_g2", "M_all_cap")
        if n in ok
    ]
    if base:
        jobs.append(ft_job("sentLD1_random", base, "sentiment", "classification", *flat, random_init=True))
    return jobs


def finetune():
    queue = ft_jobs()
    running = {}
    extra = ["--seeds", "1,2,3", "--device", DEV, "--no-progress"]
    if SMOKE:
        extra += ["--max-train-examples", "16", "--epochs", "1"]
    while (queue or running) and time.time() - T0 < FT_DEADLINE:
        while queue and len(running) < FT_PAR:
            name, args = queue.pop(0)
            cmd = [PY, "-m", "electra", "finetune", "--out", str(RUNS / "ft" / name), *args, *extra]
            running[name] = launch(cmd, X / f"ft_{name}.log")
        for name, p in list(running.items()):
            if p.poll() is not None:
                del running[name]
                res = RUNS / "ft" / name / "results.json"
                if res.exists():
                    shutil.copy(res, X / f"ft_{name}.json")
                    r = json.loads(res.read_text())
                    m = r["main_metric"]
                    log(
                        f"{name}: test {m} {r['test'][m]:.4f} per seed {[round(s['test'][m], 4) for s in r['per_seed']]}"
                    )
                else:
                    log(f"{name}: rc {p.returncode}, no results")
        time.sleep(1)
    for name, p in running.items():
        p.kill()
        log(f"ft killed at deadline: {name}")
    log(f"not started: {[n for n, _ in queue]}")


def pack():
    for res in (RUNS / "ft").glob("*/seed-*/results.json"):
        shutil.copy(res, X / f"ftseed_{res.parent.parent.name}_{res.parent.name}.json")
    with tarfile.open(OUT / "results.tar.gz", "w:gz") as tar:
        tar.add(X, arcname="x")
    for name in PACKED:
        run = RUNS / name
        if not (run / "discriminator").exists():
            continue
        subprocess.run([PY, "tools/to_fp16.py", str(run / "generator"), str(run / "discriminator")], check=False)
        with tarfile.open(OUT / f"pair_{name}.tar.gz", "w:gz") as tar:
            for part in ("generator", "discriminator", "metrics.jsonl", "run.json", "schedule.json"):
                if (run / part).exists():
                    tar.add(run / part, arcname=f"{name}/{part}")
    log("packed")
    shutil.copy(X / "driver.log", OUT / "driver.log")


if __name__ == "__main__":
    log(f"python {sys.version.split()[0]}; smoke={SMOKE}")
    pretrain()
    finetune()
    pack()
