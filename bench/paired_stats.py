"""Summary of a paired bench run (identity.sh, db.sh): rounds alternate two
modes in pairs; each metric is a per-request value, reported as the mean of
each mode and the mean on-off difference with its 95% confidence interval
(Student t over the pairs). An interval that spans 0 says the difference is
below what the run can resolve.

  paired_stats.py RESULTS.tsv OFF ON TITLE METRIC...
  METRIC = "label:column:scale" (value per request = column / requests * scale)
         | "label:column:abs"   (the column's value as it is, e.g. a round's p99)

The first metric is also reported as a relative change of the off mean, with
a verdict on whether the interval is narrow enough to tell a change of
PAIRED_RESOLVE (default 0.01 = 1%) of the off mean from none.
"""
import os
import csv
import math
import statistics
import sys

T95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26,
       10: 2.23, 12: 2.18, 15: 2.13, 20: 2.09, 30: 2.04}


def t95(df: int) -> float:
    if df < 1:
        return float("nan")
    return T95.get(df) or T95[max(k for k in T95 if k <= df)]


def main() -> None:
    path, off_mode, on_mode, title, *specs = sys.argv[1:]
    rows = list(csv.DictReader(open(path), delimiter="\t"))
    by = {}
    for r in rows:
        by.setdefault(r["pair"], {})[r["mode"]] = r
    pairs = [v for v in by.values() if off_mode in v and on_mode in v]
    metrics = []
    for spec in specs:
        label, column, scale = spec.rsplit(":", 2)
        metrics.append((label, column, None if scale == "abs" else float(scale)))

    def per(r, column, scale):
        if scale is None:
            return float(r[column])
        return float(r[column]) / int(r["requests"]) * scale

    print(f"\n{title}, {len(pairs)} pairs, mean (95% CI of {on_mode}-{off_mode})")
    print(f"{'metric':34} {off_mode:>9} {on_mode:>9} {'difference':>20}")
    for label, column, scale in metrics:
        off = [per(p[off_mode], column, scale) for p in pairs]
        on = [per(p[on_mode], column, scale) for p in pairs]
        d = [b - a for a, b in zip(off, on)]
        mean = statistics.mean(d)
        ci = t95(len(d) - 1) * statistics.stdev(d) / math.sqrt(len(d)) if len(d) > 1 \
            else float("nan")
        verdict = "" if abs(mean) > ci else "  (interval spans 0: not resolved)"
        print(f"{label:34} {statistics.mean(off):9.2f} {statistics.mean(on):9.2f} "
              f"{mean:+9.2f} ± {ci:<7.2f}{verdict}")
    label, column, scale = metrics[0]
    base = statistics.mean(per(p[off_mode], column, scale) for p in pairs)
    d = [per(p[on_mode], column, scale) - per(p[off_mode], column, scale) for p in pairs]
    ci = t95(len(d) - 1) * statistics.stdev(d) / math.sqrt(len(d)) if len(d) > 1 \
        else float("nan")
    print(f"{label + ' added':34} {statistics.mean(d) / base:+.1%} ± {ci / base:.1%} "
          f"of {base:.1f}")
    resolve = float(os.environ.get("PAIRED_RESOLVE", "0.01"))
    if not ci / base <= resolve:
        print(f"verdict: the interval (±{ci / base:.1%}) is wider than {resolve:.0%}: this run "
              f"cannot tell a {resolve:.0%} change from none (more ROUNDS or longer DURATION)")
    else:
        print(f"verdict: resolved to ±{ci / base:.1%} (finer than {resolve:.0%})")


if __name__ == "__main__":
    main()
