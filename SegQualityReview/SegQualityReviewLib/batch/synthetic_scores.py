"""A SYNTHETIC long score table shaped like a large challenge (Touchstone: 19 models x 743 CTs x 9 organs).

Not real results: the numbers come from a seeded generator, for benchmarks and tests of the analysis and
the report at that size. Each patient has a per-organ difficulty, each model a per-organ skill, and
Dice / NSD follow from both with noise. What the real tables hold and a reader must see handled is built
in: organs absent from some patients (blank values, as Touchstone leaves them: ``missing.blank:
not_evaluable``), one model whose predictions are missing for some cases (blank too), near-ties at the
top, a model that never segments one organ, and patient metadata (sex, age in years, site).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TOUCHSTONE_ORGANS = (
    "aorta",
    "gall_bladder",
    "kidney_left",
    "kidney_right",
    "liver",
    "pancreas",
    "postcava",
    "spleen",
    "stomach",
)
# Typical Dice of a good model per organ: small, thin organs are harder.
_ORGAN_DICE = {
    "aorta": 0.90,
    "gall_bladder": 0.80,
    "kidney_left": 0.93,
    "kidney_right": 0.93,
    "liver": 0.96,
    "pancreas": 0.80,
    "postcava": 0.84,
    "spleen": 0.95,
    "stomach": 0.91,
}
SITES = ("north", "south", "east")


def synthetic_score_table(
    *,
    n_models: int = 19,
    n_cases: int = 743,
    structures: tuple[str, ...] = TOUCHSTONE_ORGANS,
    metrics: tuple[str, ...] = ("dice", "nsd"),
    seed: int = 0,
    absent_rate: float = 0.08,
    missing_cases: int = 87,
) -> pd.DataFrame:
    """The long table (case_id, patient_id, model, structure, metric, value, status, sex, age, site).

    One case per patient. ``absent_rate`` of the gall bladders (and a few other organs at a tenth of it)
    are absent: blank for every model. The last model has blank values on ``missing_cases`` cases.
    """
    rng = np.random.default_rng(seed)
    models = [
        f"model_{chr(ord('A') + index)}" if index < 26 else f"model_{index}" for index in range(n_models)
    ]
    # Two leaders a hair apart, a pack behind, a long tail of weaker models.
    skill = np.sort(rng.normal(0.0, 0.03, size=n_models))[::-1]
    skill[1] = skill[0] - 0.002
    organ_skill = skill[:, None] + rng.normal(0.0, 0.01, size=(n_models, len(structures)))
    difficulty = rng.normal(0.0, 0.06, size=(n_cases, len(structures)))
    absent = rng.random((n_cases, len(structures))) < np.array(
        [absent_rate if name == "gall_bladder" else absent_rate / 10 for name in structures]
    )
    missing = np.zeros((n_models, n_cases), dtype=bool)
    missing[-1, rng.choice(n_cases, size=min(missing_cases, n_cases), replace=False)] = True
    sex = rng.choice(["F", "M"], size=n_cases)
    age = np.round(rng.normal(60, 14, size=n_cases).clip(18, 95))
    site = rng.choice(SITES, size=n_cases)
    frames = []
    for m, model in enumerate(models):
        for s, structure in enumerate(structures):
            base = _ORGAN_DICE.get(structure, 0.88)
            noise = rng.normal(0.0, 0.03, size=n_cases)
            # Rare outright failures (a missed organ) give the long left tail of real Dice tables.
            failures = rng.random(n_cases) < 0.01
            dice = np.clip(base + organ_skill[m, s] + difficulty[:, s] + noise, 0.0, 1.0)
            dice[failures] = rng.uniform(0.0, 0.3, size=failures.sum())
            nsd = np.clip(dice + rng.normal(0.02, 0.04, size=n_cases), 0.0, 1.0)
            blank = absent[:, s] | missing[m]
            for metric, values in (("dice", dice), ("nsd", nsd)):
                if metric not in metrics:
                    continue
                frames.append(
                    pd.DataFrame(
                        {
                            "case_id": [f"case_{i:04d}" for i in range(n_cases)],
                            "patient_id": [f"patient_{i:04d}" for i in range(n_cases)],
                            "model": model,
                            "structure": structure,
                            "metric": metric,
                            "value": np.where(blank, np.nan, values),
                            "sex": sex,
                            "age": age,
                            "site": site,
                        }
                    )
                )
    return pd.concat(frames, ignore_index=True)
