"""Multi-objective search with Optuna: high one-shot accuracy, few parameters (NSGA-II).

The search module of nas-cli is a library: `run_search` keeps an Optuna study (SQLite in the
run directory) whose trials carry the architecture and its figures as user attributes, so
`nas dashboard RUN_DIR` or optuna-dashboard can show them.

    python examples/03_multi_objective.py           # Fashion-MNIST subset
    python examples/03_multi_objective.py --smoke   # synthetic data, seconds
"""

import argparse
import tempfile
from pathlib import Path

from nas_cli.search import SearchConfig, run_search
from nas_core.data import DataSpec
from nas_core.train import SupernetConfig, train_supernet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny settings on synthetic data")
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="nas-pareto-"))
    if args.smoke:
        data = DataSpec("synthetic", subsets={"train": 320, "val": 100})
        supernet = SupernetConfig(space="tiny", width=4, cells_per_stack=1, steps=6, batch_size=32, device="cpu")
    else:
        data = DataSpec("fashion-mnist", subsets={"train": 5000, "val": 1000})
        supernet = SupernetConfig(width=8, cells_per_stack=1, epochs=2, batch_size=64, lr=0.2, device="cpu")
    train_supernet(supernet, data.load("train"), out / "supernet")

    config = SearchConfig(sampler="nsga2", cost="params", trials=6 if args.smoke else 40, device="cpu")
    study = run_search(out / "search", out / "supernet", data, config)
    print("Pareto front (one-shot accuracy up, parameters down):")
    for trial in sorted(study.best_trials, key=lambda t: t.values[1]):
        print(f"  acc {trial.values[0]:.3f}  params {int(trial.values[1]):>8,}  {trial.user_attrs['arch_string']}")
    print(f"study: sqlite:///{out / 'search' / 'study.db'}  (nas dashboard {out})")


if __name__ == "__main__":
    main()
