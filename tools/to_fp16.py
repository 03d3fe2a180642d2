"""Store the float tensors of model folders in fp16 (halves the shipped pair's size).

    python tools/to_fp16.py FOLDER/generator FOLDER/discriminator

Loading converts back: ``electra`` copies fp16 weights into fp32 parameters.
"""

import sys
from pathlib import Path

from safetensors.torch import load_file, save_file

for folder in sys.argv[1:]:
    path = Path(folder) / "model.safetensors"
    state = load_file(str(path))
    save_file(
        {k: v.half() if v.is_floating_point() else v for k, v in state.items()}, str(path), metadata={"format": "pt"}
    )
    print(f"{path}: {path.stat().st_size / 1e6:.1f} MB")
