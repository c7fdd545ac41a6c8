"""Issue 11, part 5: the Grafana dashboards in deploy/grafana/ query what perfd exports.

The example shop (examples/shop: FastAPI, asyncpg on a real PostgreSQL, 2 uvicorn
workers) runs under its own load generator (examples/shop/load.py: concurrent
keep-alive clients, every route, all of them hitting the database) while a real
Prometheus scrapes perfd every second. Every target of every panel of every
dashboard is then run through Prometheus' query API with the template variables
filled in as Grafana would, and must return at least one series with a finite
value; every metric name in every expression must be one Prometheus has seen
from perfd. Structural checks cover what Grafana needs to import the JSON (unique
panel ids, grid positions, datasource references to the ${datasource} variable),
and the kustomization that turns the files into the sidecar's ConfigMap.
"""
import json
import math
import re
import shutil
import signal
import subprocess
import time
from typing import Dict, Iterator, List, Set, Tuple

import pytest
import yaml

from e2e_helpers import PY, REPO_ROOT, Proc, unique

GRAFANA_DIR = REPO_ROOT / "deploy" / "grafana"
DASHBOARDS = sorted(GRAFANA_DIR.glob("*.json"))
SHOP_DIR = REPO_ROOT / "examples" / "shop"
SERVICE = unique("e2e-dash-shop")
# What Grafana puts in for its built-in interval variables. With a 1 s scrape
# Grafana's own $__rate_interval would be 4 s; 15 s gives every rate() a few
# samples even on a loaded CI machine.
BUILTINS = {"$__rate_interval": "15s", "$__interval": "5s", "$__range": "1m"}
# How long the load may take to make every panel non-empty (the first DB
# series need the shop's first requests, rates need two scrapes).
PANELS_DEADLINE = 90.0

# PromQL words that look like identifiers but are not metric names.
PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
    "unless", "offset", "inf", "nan",
}


# ------------------------------------------------------------------ dashboards

def load_dashboards() -> Dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in DASHBOARDS}


def all_panels(panels: List[dict]) -> Iterator[dict]:
    for p in panels:
        yield p
        yield from all_panels(p.get("panels", []))  # collapsed rows nest theirs


def targets_of(name: str, dash: dict) -> Iterator[Tuple[str, dict, dict]]:
    for p in all_panels(dash["panels"]):
        for t in p.get("targets", []):
            yield f"{name} / {p['title']} / {t['refId']}", p, t


def fill_variables(expr: str, dash: dict, values: Dict[str, str]) -> str:
    """Substitutes the dashboard's template variables and Grafana's built-ins.
    A multi-value variable with "All" selected becomes its allValue (.*)."""
    subst = dict(BUILTINS)
    for var in dash["templating"]["list"]:
        if var["type"] == "datasource":
            continue
        name = var["name"]
        if name in values:
            subst[f"${name}"] = values[name]
        elif var.get("includeAll"):
            subst[f"${name}"] = var.get("allValue") or ".*"
        else:
            raise AssertionError(f"no test value for template variable ${name}")
    # Longest first: $__rate_interval before a hypothetical $__rate.
    for key in sorted(subst, key=len, reverse=True):
        expr = expr.replace("${" + key[1:] + "}", subst[key]).replace(key, subst[key])
    assert "$" not in expr, f"unsubstituted variable left in {expr!r}"
    return expr


def metric_names(expr: str) -> Set[str]:
    """The metric names an expression selects: identifiers outside label matchers,
    grouping clauses, ranges and strings that are not function calls or keywords."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)                      # string literals
    s = re.sub(r"\{[^}]*\}", " ", s)                                   # label matchers
    s = re.sub(r"\[[^\]]*\]", " ", s)                                  # ranges
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", s):
        word = m.group(0)
        if word.lower() in PROMQL_WORDS or re.match(r"\s*\(", s[m.end():]):
            continue  # keyword, or a function/aggregation call
        if m.start() > 0 and (s[m.start() - 1].isdigit() or s[m.start() - 1] == "."):
            continue  # the exponent or unit of a number literal (1e-9, 5m)
        names.add(word)
    return names


def test_metric_name_extraction():
    """The extractor the name check relies on (so the check itself can fail)."""
    assert metric_names('histogram_quantile(0.99, sum by (le, http_route) '
                        '(rate(a_bucket{x="y{z}", q=~"5.."}[15s])))') == {"a_bucket"}
    assert metric_names('(sum(rate(b_count{s="$x"}[1m])) or vector(0)) / sum(c)') == \
        {"b_count", "c"}
    assert metric_names("topk(10, sum without (instance) (d_sum)) > 1e-9") == {"d_sum"}
    assert metric_names('x_total{a="b"} unless on (a) y') == {"x_total", "y"}


def test_dashboards_are_importable_json():
    dashes = load_dashboards()
    assert {d for d in dashes} == {"perfd-health.json", "perfd-service-overview.json"}, dashes
    uids = [d["uid"] for d in dashes.values()]
    assert len(set(uids)) == len(uids), uids
    for name, dash in dashes.items():
        assert dash["schemaVersion"] >= 36 and dash["title"] and dash["uid"], name
        assert dash.get("id") is None, f"{name}: a fixed id breaks import into another Grafana"
        variables = {v["name"]: v for v in dash["templating"]["list"]}
        ds = variables.get("datasource")
        assert ds and ds["type"] == "datasource" and ds["query"] == "prometheus", name
        ids: List[int] = []
        cells = set()
        n_targets = 0
        for p in all_panels(dash["panels"]):
            ids.append(p["id"])
            g = p["gridPos"]
            assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0 and g["y"] >= 0, \
                f"{name}: {p['title']} {g}"
            for x in range(g["x"], g["x"] + g["w"]):  # panels must not overlap
                for y in range(g["y"], g["y"] + g["h"]):
                    assert (x, y) not in cells, f"{name}: {p['title']} overlaps at {(x, y)}"
                    cells.add((x, y))
            if p["type"] == "row":
                continue
            assert p.get("title") and p.get("description"), f"{name}: panel {p['id']}"
            assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
            assert p["targets"], f"{name}: {p['title']} has no query"
            refs = [t["refId"] for t in p["targets"]]
            assert len(set(refs)) == len(refs), f"{name}: {p['title']} refIds {refs}"
            for t in p["targets"]:
                n_targets += 1
                assert t["datasource"] == p["datasource"], f"{name}: {p['title']}"
                used = set(re.findall(r"\$\{?(\w+)", t["expr"]))
                unknown = used - set(variables) - {k[1:] for k in BUILTINS}
                assert not unknown, f"{name}: {p['title']} uses undefined {unknown}"
                assert "[$__rate_interval]" in t["expr"] or "rate(" not in t["expr"], \
                    f"{name}: {p['title']}: rate() windows should be $__rate_interval"
        assert len(set(ids)) == len(ids), f"{name}: duplicate panel ids {sorted(ids)}"
        assert n_targets >= 10, name
        for v in variables.values():
            if v["type"] == "query":
                assert v["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, v
    svc = {v["name"]: v for v in dashes["perfd-service-overview.json"]["templating"]["list"]}
    assert svc["service_name"]["query"]["query"].startswith("label_values(")
    assert svc["http_route"]["multi"] and svc["http_route"]["includeAll"]
    assert svc["http_route"]["allValue"] == ".*"


def test_kustomization_makes_the_sidecar_configmap():
    """The ConfigMap the Grafana sidecar loads: every dashboard, byte for byte."""
    kust = yaml.safe_load((GRAFANA_DIR / "kustomization.yaml").read_text())
    assert kust["generatorOptions"]["disableNameSuffixHash"] is True
    assert kust["generatorOptions"]["labels"]["grafana_dashboard"] == "1"
    (gen,) = kust["configMapGenerator"]
    assert gen["name"] == "perfd-grafana-dashboards"
    assert sorted(gen["files"]) == [p.name for p in DASHBOARDS]
    kubectl = shutil.which("kubectl")
    if not kubectl:
        pytest.skip("kubectl not installed: kustomization checked as YAML only")
    out = subprocess.run([kubectl, "kustomize", str(GRAFANA_DIR)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    (cm,) = list(yaml.safe_load_all(out.stdout))
    assert cm["kind"] == "ConfigMap" and cm["metadata"]["name"] == "perfd-grafana-dashboards"
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["data"] == {p.name: p.read_text() for p in DASHBOARDS}


# ------------------------------------------------------------------ live queries

@pytest.fixture(scope="module")
def shop(launch, perfd, postgres):
    app = launch("shop.main:app", SERVICE, workers=2, env={
        "SHOP_DATABASE_URL": postgres.dsn,
        "PYTHONDONTWRITEBYTECODE": "1",
    }, extra_args=["--app-dir", str(SHOP_DIR), "--no-access-log"])  # the last --app-dir wins
    perfd.wait_workers(SERVICE, app.worker_pids())
    return app


@pytest.fixture(scope="module")
def load(shop, module_dir):
    """The shop's own load generator, as scripts/demo.sh runs it: 4 keep-alive
    clients, ~80 requests/s over every route, until the module ends."""
    proc = Proc("load.py", [PY, str(SHOP_DIR / "load.py"), "--url",
                            f"http://127.0.0.1:{shop.port}", "--rate", "80", "--threads", "4",
                            "--report-every", "5"],
                module_dir / "load.log")
    yield proc
    proc.stop(signal.SIGTERM, timeout=15)
    log = proc.log_text()
    assert "--- done" in log, f"load.py did not finish cleanly:\n{proc.tail(40)}"


def grafana_regex_escape(value: str) -> str:
    """A selected value of a multi-value variable as Grafana's Prometheus data source puts
    it into a =~ matcher: regex metacharacters escaped, the backslash doubled because the
    regex sits inside a PromQL string."""
    return re.sub(r"([\\^$*+?.()|{}\[\]])", r"\\\\\1", value)


def series_ok(result: list) -> bool:
    """At least one series with a finite value now."""
    return any(math.isfinite(float(r["value"][1])) for r in result)


def test_every_panel_query_returns_series(perfd, shop, load, prometheus_factory):
    prom = prometheus_factory([f"127.0.0.1:{perfd.metrics_port}"])
    values = {"service_name": SERVICE}
    queries: Dict[str, str] = {}
    names: Dict[str, Set[str]] = {}
    for name, dash in load_dashboards().items():
        for where, _, t in targets_of(name, dash):
            queries[where] = fill_variables(t["expr"], dash, values)
            names[where] = metric_names(queries[where])
            assert names[where], f"{where}: no metric in {queries[where]!r}"

    # The variables' own queries must list the shop (Grafana fills them first).
    svc = {v["name"]: v for v in load_dashboards()["perfd-service-overview.json"]
           ["templating"]["list"]}
    label_q = re.fullmatch(r"label_values\((\w+), (\w+)\)", svc["service_name"]["query"]["query"])
    assert label_q, svc["service_name"]["query"]

    pending = dict(queries)
    last: Dict[str, object] = {}
    start = time.monotonic()
    deadline = start + PANELS_DEADLINE
    while pending and time.monotonic() < deadline:
        perfd.check_alive()
        assert load.alive(), f"load.py exited:\n{load.tail(40)}"
        for where, q in list(pending.items()):
            result = prom.query(q)
            last[where] = result
            if series_ok(result):
                del pending[where]
        if pending:
            time.sleep(1.0)  # one scrape
    took = time.monotonic() - start
    assert not pending, (
        f"{len(pending)} of {len(queries)} panel queries returned no series after "
        f"{took:.0f}s of load:\n" + "\n".join(
            f"  {w}: {q}\n    -> {last.get(w)}" for w, q in pending.items())
        + f"\nload.py:\n{load.tail(20)}")
    print(f"{len(queries)} panel queries all returned series after {took:.1f}s")

    # Every metric name a panel uses is one perfd exports (a typo or a metric
    # that has not landed fails here even if an `or vector(0)` hid it above).
    exported = set(prom.api("label/__name__/values"))
    unknown = {w: n - exported for w, n in names.items() if n - exported}
    assert not unknown, f"metric names Prometheus never saw from perfd: {unknown}"
    used = set().union(*names.values())
    print(f"{len(used)} distinct metric names, all exported: {sorted(used)}")

    services = prom.api("label/service_name/values",
                        **{"match[]": label_q.group(1)})
    assert SERVICE in services, services
    routes = prom.api("label/http_route/values",
                      **{"match[]": f'{label_q.group(1)}{{service_name="{SERVICE}"}}'})
    assert "/products/{product_id}" in routes and "/orders" in routes, routes
    health = {v["name"]: v for v in load_dashboards()["perfd-health.json"]["templating"]["list"]}
    inst_q = re.fullmatch(r"label_values\((\w+), instance\)", health["instance"]["query"]["query"])
    assert inst_q, health["instance"]["query"]
    instances = prom.api("label/instance/values", **{"match[]": inst_q.group(1)})
    assert instances == [f"127.0.0.1:{perfd.metrics_port}"], instances

    # One route selected in the drop-down: every service panel narrows to it.
    route = "/products/{product_id}"
    one = {"service_name": SERVICE, "http_route": grafana_regex_escape(route)}
    svc_dash = load_dashboards()["perfd-service-overview.json"]
    for where, _, t in targets_of("service", svc_dash):
        q = fill_variables(t["expr"], svc_dash, one)
        result = prom.query(q)
        assert series_ok(result), f"{where} with http_route={route}: {q}\n-> {result}"
        others = {r["metric"].get("http_route") for r in result} - {route, None}
        assert not others, f"{where} with http_route={route} shows {others}: {q}"
