"""The package as a user installs it: build the wheel, ``pip install`` it (not editable) into a
fresh venv, and run the ``electra`` command from outside the source tree: the shipped pair
(package data) through ``demo --shipped-model-path`` and ``detect``, the built-in corpus through
a short ``demo``. Slow (a venv, torch and the dependencies installed): ``make test-wheel``."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TORCH = "torch==2.13.0"  # the CPU build `make setup` pins


def run(*args, cwd: Path, timeout: int = 600) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, args))} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.slow
def test_the_installed_wheel_runs_demo_and_detect_from_its_package_data(tmp_path):
    wheels = tmp_path / "wheels"
    run(sys.executable, "-m", "pip", "wheel", ROOT, "--no-deps", "-q", "-w", wheels, cwd=tmp_path)
    (wheel,) = wheels.glob("electra-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for part in ("discriminator", "generator"):
        assert f"electra/assets/pretrained-tiny/{part}/model.safetensors" in names
    assert {"electra/assets/corpus/mobydick.txt.gz", "electra/train/sinks.py"} <= names

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    pip = venv / "bin" / "pip"
    run(pip, "install", "-q", TORCH, cwd=tmp_path)
    run(pip, "install", "-q", wheel, cwd=tmp_path)
    electra = venv / "bin" / "electra"

    pair = Path(run(electra, "demo", "--shipped-model-path", cwd=tmp_path).strip())
    assert pair.is_relative_to(venv) and (pair / "discriminator" / "model.safetensors").is_file()
    tokens = json.loads(run(electra, "detect", "--model", pair, "--json", "the whale swam in the sea .", cwd=tmp_path))
    assert [t["token"] for t in tokens][:2] == ["the", "whale"] and all(0 <= t["p_replaced"] <= 1 for t in tokens)
    shown = run(electra, "demo", "--minutes", "0.05", cwd=tmp_path)  # the built-in corpus, prepared and trained on
    assert "[3/3]" in shown and "mobydick.txt.gz" in shown
