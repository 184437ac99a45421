# Reference values for stats.test.ts, computed once with scipy and pasted into the test (the tests never run this):
#   .cache/engine-venv/bin/python src/experiments/stats/scipy-reference.py
import json
import math

from scipy import stats
from scipy.stats import binomtest

out = {}
out["normal_cdf"] = {str(x): stats.norm.cdf(x) for x in [-8.0, -3.0, -1.96, 0.0, 0.5, 2.5]}
out["normal_quantile"] = {str(p): stats.norm.ppf(p) for p in [1e-12, 0.001, 0.025, 0.3, 0.5, 0.8, 0.975, 0.999999]}
out["two_sided_p"] = {str(z): 2 * stats.norm.sf(abs(z)) for z in [0.0, 1.0, 2.1462, 7.92505, 12.0]}
out["chi2_sf"] = {
    f"{x}/{df}": stats.chi2.sf(x, df) for x, df in [(6.3492, 1), (14.2292, 1), (3.0, 2), (10.0, 5), (40.0, 9)]
}
out["wilson"] = {
    f"{k}/{n}": list(binomtest(k, n).proportion_ci(0.95, method="wilson"))
    for k, n in [(2500, 50000), (3075, 50000), (0, 20), (3, 10), (20, 20)]
}


def two_proportion(ca, na, cb, nb, alpha=0.05):
    pa, pb = ca / na, cb / nb
    pooled = (ca + cb) / (na + nb)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
    z = (pb - pa) / se0
    se = math.sqrt(pa * (1 - pa) / na + pb * (1 - pb) / nb)
    q = stats.norm.ppf(1 - alpha / 2)
    lift = pb / pa - 1
    se_lift = math.sqrt((pb * (1 - pb) / nb) / pa**2 + pb**2 * (pa * (1 - pa) / na) / pa**4)
    return {
        "z": z,
        "p": 2 * stats.norm.sf(abs(z)),
        "diff_ci": [pb - pa - q * se, pb - pa + q * se],
        "lift": lift,
        "lift_ci": [lift - q * se_lift, lift + q * se_lift],
    }


out["two_proportion"] = {
    "2500/50000 vs 3075/50000": two_proportion(2500, 50000, 3075, 50000),
    "2500/50000 vs 2650/50000": two_proportion(2500, 50000, 2650, 50000),
    "130/2400 vs 95/2600": two_proportion(130, 2400, 95, 2600),
}


def sample_size(p1, lift, alpha, power, k=1.0):
    p2 = p1 * (1 + lift)
    pooled = (p1 + k * p2) / (1 + k)
    za, zb = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    root = za * math.sqrt(pooled * (1 - pooled) * (1 + 1 / k)) + zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2) / k)
    return math.ceil(root**2 / (p2 - p1) ** 2)


def power_at(p1, lift, n, alpha, k=1.0):
    p2 = p1 * (1 + lift)
    se = math.sqrt(p1 * (1 - p1) / n + p2 * (1 - p2) / (k * n))
    za = stats.norm.ppf(1 - alpha / 2)
    return stats.norm.cdf(abs(p2 - p1) / se - za) + stats.norm.cdf(-abs(p2 - p1) / se - za)


out["sample_size"] = {
    "0.05 +10% 0.05 0.8": sample_size(0.05, 0.10, 0.05, 0.8),
    "0.05 +23% 0.05 0.8": sample_size(0.05, 0.23, 0.05, 0.8),
    "0.02 +5% 0.01 0.9": sample_size(0.02, 0.05, 0.01, 0.9),
    "0.05 +10% 0.05 0.8 k=0.25": sample_size(0.05, 0.10, 0.05, 0.8, 0.25),
}
out["power"] = {
    "0.05 +10% n=50000": power_at(0.05, 0.10, 50000, 0.05),
    "0.05 +10% n=31234": power_at(0.05, 0.10, 31234, 0.05),
}
# chi-square goodness of fit for SRM (scipy's own test)
out["srm"] = {
    "50000,51200 @ 1:1": stats.chisquare([50000, 51200]).pvalue,
    "52000,48000 @ 1:1": stats.chisquare([52000, 48000]).pvalue,
    "30500,19800,49700 @ 3:2:5": stats.chisquare([30500, 19800, 49700], [30000, 20000, 50000]).pvalue,
}
print(json.dumps(out, indent=1))
