"""compose/k8s/monitoring/: the ServiceMonitors and the PrometheusRule validate against the
Prometheus Operator's CRD schemas (tests/deploy/crds/, vendored: see its README), offline; each
ServiceMonitor selects a Service of compose/k8s by a port it has; the PrometheusRule holds exactly
compose/monitoring/rules.yml's groups (`python -m tests.deploy.test_k8s_monitoring` rewrites it)."""

from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "compose" / "k8s" / "monitoring"
CRDS = Path(__file__).parent / "crds"
RULES = ROOT / "compose" / "monitoring" / "rules.yml"
PROMETHEUS_RULE = MONITORING / "prometheusrule.yaml"
HEADER = """\
# compose/monitoring/rules.yml as a PrometheusRule (its groups, unchanged: tests/deploy/test_k8s_monitoring.py
# compares them). The SLOs and runbooks: docs/operations.md. Regenerate after changing the rules:
#   python -m tests.deploy.test_k8s_monitoring
"""


def schemas():
    """{kind: the openAPIV3Schema of its served v1}."""
    found = {}
    for path in CRDS.glob("*.yaml"):
        crd = yaml.safe_load(path.read_text())
        (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
        found[crd["spec"]["names"]["kind"]] = version["schema"]["openAPIV3Schema"]
    return found


def resources():
    listed = yaml.safe_load((MONITORING / "kustomization.yaml").read_text())["resources"]
    return [doc for name in listed for doc in yaml.safe_load_all((MONITORING / name).read_text()) if doc]


def test_every_resource_validates_against_its_crd_schema():
    kinds = schemas()
    assert set(kinds) == {"ServiceMonitor", "PrometheusRule"}
    for doc in resources():
        assert doc["apiVersion"] == "monitoring.coreos.com/v1"
        validator = jsonschema.Draft7Validator(kinds[doc["kind"]])
        errors = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(doc)]
        assert not errors, f"{doc['kind']}/{doc['metadata']['name']}: {errors}"


def test_the_schemas_catch_a_mistake():
    kinds = schemas()
    monitor = next(doc for doc in resources() if doc["kind"] == "ServiceMonitor")
    broken = {**monitor, "spec": {**monitor["spec"], "endpoints": [{"port": 9100}]}}  # a port is a name
    assert list(jsonschema.Draft7Validator(kinds["ServiceMonitor"]).iter_errors(broken))


def test_each_service_monitor_selects_a_service_by_a_port_it_has():
    services = [
        doc
        for path in (ROOT / "compose" / "k8s").glob("*.yaml")
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc["kind"] == "Service"
    ]
    for monitor in (doc for doc in resources() if doc["kind"] == "ServiceMonitor"):
        wanted = monitor["spec"]["selector"]["matchLabels"].items()
        matching = [s for s in services if wanted <= s["metadata"]["labels"].items()]
        assert matching, monitor["metadata"]["name"]
        ports = {port["name"] for service in matching for port in service["spec"]["ports"]}
        for endpoint in monitor["spec"]["endpoints"]:
            assert endpoint["port"] in ports, (monitor["metadata"]["name"], endpoint["port"])


def rendered():
    groups = yaml.safe_load(RULES.read_text())["groups"]
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "travel", "namespace": "travel", "labels": {"app.kubernetes.io/part-of": "nameko-travel"}},
        "spec": {"groups": groups},
    }
    return HEADER + yaml.safe_dump(rule, sort_keys=False, width=200, allow_unicode=True)


def test_the_prometheus_rule_holds_the_rules_file():
    assert PROMETHEUS_RULE.read_text() == rendered(), "run: python -m tests.deploy.test_k8s_monitoring"


if __name__ == "__main__":
    PROMETHEUS_RULE.write_text(rendered())
    print(f"wrote {PROMETHEUS_RULE.relative_to(ROOT)}")
