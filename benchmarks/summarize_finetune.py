"""Print one Markdown table of every fine-tuning run (results.json) under a folder."""

import json
import sys
from pathlib import Path


def main(root: Path) -> None:
    print("| run | init | seeds | main metric | dev (median) | test (median) | test min-max | test baseline |")
    print("|---|---|---|---|---|---|---|---|")
    for path in sorted(root.glob("*/results.json")):
        r = json.loads(path.read_text())
        main = r["main_metric"]
        test = r.get("test", {})
        spread = r.get("test_spread", {}).get(main)
        span = f"{spread['min']:.4f}-{spread['max']:.4f}" if spread else ""
        print(
            f"| {path.parent.name} | {r['init']} | {','.join(map(str, r['seeds']))} | {main} | "
            f"{r.get('dev', {}).get(main, float('nan')):.4f} | {test.get(main, float('nan')):.4f} | {span} | "
            f"{r.get('baseline', {}).get('test', {}).get(main, float('nan')):.4f} |"
        )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
