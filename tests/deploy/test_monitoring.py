"""compose/monitoring/: the rules pass `promtool check rules` and their unit tests (each alert
fired and kept quiet: rules.test.yml, rules.daily.test.yml); every metric and label the rules and
the dashboard use exists on a live gateway (both kinds) and worker, or on the exporters (Redis's,
run here from Debian's package; RabbitMQ's are listed below and checked on a live node by
test_rabbitmq_boot.py),
so a renamed metric fails here; Prometheus's own configuration is valid.

Needs promtool (Debian: prometheus) and prometheus-redis-exporter; scripts/test installs both.
"""

import json
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from devstack.isolation import free_port
from devstack.processes import ChildProcess
from devstack.stack import wait_for_http
from tests.support.processes import ROOT, start_gateway

MONITORING = ROOT / "compose" / "monitoring"
RULES = MONITORING / "rules.yml"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "nameko-travel.json"
# rabbitmq_prometheus (3.10+): what the dashboard reads from /metrics and /metrics/detailed
# (tests/deploy/test_rabbitmq_boot.py finds each on a node booted with the project's definitions)
RABBITMQ_METRICS = {
    "rabbitmq_connections": set(),
    "rabbitmq_detailed_queue_messages_ready": {"vhost", "queue"},
    "rabbitmq_detailed_queue_messages_unacked": {"vhost", "queue"},
    "rabbitmq_detailed_queue_messages": {"vhost", "queue"},
    "rabbitmq_detailed_queue_consumers": {"vhost", "queue"},
}
TARGET_LABELS = {"instance", "job"}  # Prometheus adds them to every scraped series
PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "by", "without", "on", "ignoring", "group_left", "group_right",
    "rate", "irate", "increase", "histogram_quantile", "absent", "label_replace", "and", "or", "unless",
    "offset", "bool", "humanizePercentage",
}  # fmt: skip


def promtool():
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is not installed (Debian: apt-get install prometheus; scripts/test installs it)")
    return path


def run_promtool(*args, cwd=MONITORING):
    return subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_promtool_checks_the_rules():
    done = run_promtool("check", "rules", "rules.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_unit_tests_fire_and_quiet_every_alert():
    done = run_promtool("test", "rules", "rules.test.yml", "rules.daily.test.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    alerts = {rule.get("alert") for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]}
    alerts.discard(None)
    tested = {}
    for name in ("rules.test.yml", "rules.daily.test.yml"):
        for test in yaml.safe_load((MONITORING / name).read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                tested.setdefault(case["alertname"], set()).add(bool(case.get("exp_alerts")))
    for alert in alerts:
        assert tested.get(alert) == {True, False}, f"{alert}: needs a test that fires it and one that keeps it quiet"


def test_every_alert_has_a_summary_and_a_runbook_section():
    runbooks = (ROOT / "docs" / "operations.md").read_text()
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", line[3:].strip().lower()).replace(" ", "-")
        for line in runbooks.splitlines()
        if line.startswith("## ")
    }
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                assert rule["annotations"]["summary"], rule["alert"]
                page, anchor = rule["annotations"]["runbook"].split("#")
                assert page == "docs/operations.md" and anchor in anchors, rule["alert"]


def test_prometheus_configuration_is_valid(tmp_path):
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    shutil.copy(RULES, tmp_path / "rules.yml")
    config["rule_files"] = [str(tmp_path / "rules.yml")]  # inside the container: /etc/prometheus/rules.yml
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    done = run_promtool("check", "config", str(tmp_path / "prometheus.yml"), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def expressions():
    """(where, PromQL) of every rule and every dashboard panel."""
    found = []
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            found.append((rule.get("alert") or rule["record"], rule["expr"]))
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel.get("targets", []):
            found.append((f"panel {panel['title']!r}", target["expr"]))
    return found


def names_and_labels(expr):
    """The metric names an expression reads and the label names it uses."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # no identifiers inside strings
    text = re.sub(r"\[[^\]]*\]", "", text)  # nor range selectors ([5m])
    labels = {
        name for inside in re.findall(r"\{([^}]*)\}", text) for name in re.findall(r"([a-zA-Z_]\w*)\s*[=!]", inside)
    }
    for group in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", text):
        labels |= {name.strip() for name in group.split(",") if name.strip()}
    # label_replace(v, "dst", ...): the destination is made here, the source must exist
    made = set(re.findall(r'label_replace\([^,]+,\s*"(\w+)"', expr))
    sources = set(re.findall(r'label_replace\([^,]+,\s*"\w+",\s*"[^"]*",\s*"(\w+)"', expr))
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", "", text)
    words = set(re.findall(r"[a-zA-Z_:][\w:]*", text))
    metrics = {word for word in words if word not in PROMQL_WORDS and not re.fullmatch(r"\d+[smhdw]", word)}
    return metrics, (labels | sources) - made


@pytest.fixture(scope="module")
def exposed(workers, stack_env, live_gateway, workers_metrics_port):
    """{sample name: label names} on a live ASGI and WSGI gateway, the workers and Redis's exporter,
    after a little traffic (a labelled series appears once used)."""
    wsgi, wsgi_url = start_gateway("wsgi", {**stack_env, "LOG_LEVEL": "WARNING"})
    exporter_port = free_port()
    exporter = ChildProcess(
        "redis-exporter",
        [
            redis_exporter(),
            "-redis.addr",
            "redis://127.0.0.1:6379",
            "-web.listen-address",
            f"127.0.0.1:{exporter_port}",
        ],
        {"PATH": "/usr/bin:/bin"},
    ).start()
    try:
        for url in (live_gateway, wsgi_url):
            created = json.loads(post(f"{url}/airports", {"name": "metrics-names"}))
            get(f"{url}/airports/{created['id']}")
            get(f"{url}/airports/{'0' * 32}", ok=False)  # a 404: a service's own error
            get(f"{url}/metrics")
        wait_for_http(f"http://127.0.0.1:{exporter_port}/metrics", exporter)
        texts = [get(f"{url}/metrics") for url in (live_gateway, wsgi_url)]
        texts += [
            get(f"http://127.0.0.1:{workers_metrics_port}/metrics"),
            get(f"http://127.0.0.1:{exporter_port}/metrics"),
        ]
    finally:
        wsgi.close()
        exporter.close()
    found = {name: set(labels) for name, labels in RABBITMQ_METRICS.items()}
    for text in texts:
        for family in text_string_to_metric_families(text):
            found.setdefault(family.name, set())
            for sample in family.samples:
                found.setdefault(sample.name, set()).update(sample.labels)
    return found


def redis_exporter():
    path = shutil.which("prometheus-redis-exporter")
    if path is None:
        pytest.fail("prometheus-redis-exporter is not installed (Debian package; scripts/test installs it)")
    return path


def get(url, ok=True):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.read().decode()
    except urllib.error.HTTPError as error:
        if ok:
            raise
        return error.read().decode()


def post(url, body):
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


def test_every_metric_and_label_the_rules_and_dashboard_use_is_exported(exposed):
    recorded = {
        rule["record"]
        for group in yaml.safe_load(RULES.read_text())["groups"]
        for rule in group["rules"]
        if "record" in rule
    }
    problems = []
    for where, expr in expressions():
        metrics, labels = names_and_labels(expr)
        available = set(TARGET_LABELS)
        for metric in metrics:
            if metric in recorded:
                available |= {"route", "method", "status", "service", "outcome"}  # what recording rules keep
            elif metric not in exposed:
                problems.append(f"{where}: {metric} is exported by nothing")
            else:
                available |= exposed[metric]
        missing = labels - available - {"le"} if any(m.endswith("_bucket") for m in metrics) else labels - available
        problems += [f"{where}: no metric of {sorted(metrics)} has the label {label!r}" for label in sorted(missing)]
    assert not problems, "\n".join(problems)


def test_the_name_check_catches_a_renamed_metric_or_label(exposed):
    metrics, labels = names_and_labels('sum by (service) (rate(gateway_rpc_calls_renamed_total{call="x"}[5m]))')
    assert "gateway_rpc_calls_renamed_total" in metrics and "gateway_rpc_calls_renamed_total" not in exposed
    assert labels == {"service", "call"}
    assert "shard" not in exposed["gateway_http_requests_total"]


def test_the_dashboard_is_provisioned(tmp_path):
    dashboard = json.loads(DASHBOARD.read_text())
    titles = [panel["title"] for panel in dashboard["panels"]]
    for wanted in ("by route", "service.method", "max_workers", "queue depth", "Redis"):
        assert any(wanted.lower() in title.lower() for title in titles), wanted
    provider = yaml.safe_load((MONITORING / "grafana" / "provisioning" / "dashboards" / "travel.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    assert Path(DASHBOARD).parent.name == "dashboards"
