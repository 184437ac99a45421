# GrowthBook's stats engine (gbstats) on the cases bench/ab-stats.ts sends on stdin; prints its numbers as JSON.
# Run by bench/ab-stats.ts with a throwaway venv: python3 -m venv /tmp/gbstats-venv && /tmp/gbstats-venv/bin/pip install gbstats
import json
import sys
from importlib.metadata import version

from gbstats.frequentist.tests import (
    FrequentistConfig,
    SequentialConfig,
    SequentialTwoSidedTTest,
    TwoSidedTTest,
)
from gbstats.models.statistics import ProportionStatistic
from gbstats.utils import check_srm


def result_of(test):
    result = test.compute_result()
    return {"estimate": result.expected, "ci": list(result.ci), "p": result.p_value}


def run(case):
    a = ProportionStatistic(n=case["a"]["users"], sum=case["a"]["clicks"])
    b = ProportionStatistic(n=case["b"]["users"], sum=case["b"]["clicks"])
    out = {}
    for kind in ("absolute", "relative"):
        out[f"fixed_{kind}"] = result_of(TwoSidedTTest(a, b, FrequentistConfig(difference_type=kind)))
        config = SequentialConfig(difference_type=kind, sequential_tuning_parameter=case["tuning"])
        out[f"sequential_{kind}"] = result_of(SequentialTwoSidedTTest(a, b, config))
    out["srm_p"] = float(check_srm([case["a"]["users"], case["b"]["users"]], [0.5, 0.5]))
    return out


cases = json.load(sys.stdin)
print(json.dumps({"gbstats": version("gbstats"), "results": [run(case) for case in cases]}))
