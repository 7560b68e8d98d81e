"""compose/k8s/, hardened: one namespace; NetworkPolicies that let through only the traffic the
design needs; secrets as files; the broker's definitions and partition handling; Redis with
Sentinel and its append-only file; the kustomization builds offline (kubectl kustomize); the
gateway's preStop pause is its SHUTDOWN_GRACE."""

import json
import shutil
import subprocess

import pytest
import yaml

from tests.deploy.test_k8s import K8S_DIR, ROOT, manifest_files, of_kind

SECRETS_DIR = "/etc/travel/secrets"


@pytest.fixture(scope="module")
def manifests():
    return [(path.name, doc) for path in manifest_files() for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.fixture(scope="module")
def built():
    """The kustomization as `kubectl kustomize` builds it (no cluster needed)."""
    kubectl = shutil.which("kubectl") or pytest.fail("kubectl is not installed (it builds the kustomization)")
    done = subprocess.run([kubectl, "kustomize", str(K8S_DIR)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def test_everything_is_in_the_travel_namespace(manifests, built):
    (namespace,) = [doc for _, doc in manifests if doc["kind"] == "Namespace"]
    assert namespace["metadata"]["name"] == "travel"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for filename, doc in manifests:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == "travel", f"{filename}: {doc['kind']}/{doc['metadata']['name']}"
    assert {doc["metadata"].get("namespace") for doc in built if doc["kind"] != "Namespace"} == {"travel"}


def pods(built):
    """{name: pod template labels} of every workload."""
    return {
        doc["metadata"]["name"]: doc["spec"]["template"]["metadata"]["labels"]
        for doc in built
        if doc["kind"] in ("Deployment", "StatefulSet")
    }


def selects(selector, labels):
    return set(selector.get("matchLabels", {}).items()) <= set(labels.items())


def allowed(policies, source, target, port, namespace="travel"):
    """Whether the policies let `source`'s pods (labels; or any pod of `namespace`) reach `target`'s
    pods on `port`: an ingress rule of a policy selecting the target must admit it (and, for a
    source in this namespace, an egress rule of a policy selecting the source)."""

    def admits(peers, labels, ns):
        if not peers:
            return True
        for peer in peers:
            ns_ok = "namespaceSelector" not in peer or selects(
                peer["namespaceSelector"], {"kubernetes.io/metadata.name": ns}
            )
            pod_ok = "podSelector" not in peer or (labels is not None and selects(peer["podSelector"], labels))
            if "namespaceSelector" not in peer and ns != "travel":
                continue
            if ns_ok and pod_ok:
                return True
        return False

    def port_ok(ports):
        return not ports or any(p["port"] <= port <= p.get("endPort", p["port"]) for p in ports)

    ingress = any(
        port_ok(rule.get("ports")) and admits(rule.get("from"), source, namespace)
        for policy in policies
        if selects(policy["spec"]["podSelector"], target)
        for rule in policy["spec"].get("ingress", [])
    )
    if source is None or namespace != "travel":
        return ingress
    egress = any(
        port_ok(rule.get("ports")) and admits(rule.get("to"), target, "travel")
        for policy in policies
        if selects(policy["spec"]["podSelector"], source)
        for rule in policy["spec"].get("egress", [])
    )
    return ingress and egress


def test_network_policies_allow_only_what_the_design_needs(built):
    policies = [doc for doc in built if doc["kind"] == "NetworkPolicy"]
    (deny,) = [p for p in policies if p["spec"]["podSelector"] == {}]
    assert set(deny["spec"]["policyTypes"]) == {"Ingress", "Egress"} and "ingress" not in deny["spec"]
    workload = pods(built)
    gateway, worker = workload["travel-gateway"], workload["travel-airports"]
    rabbitmq, redis = workload["travel-rabbitmq"], workload["travel-redis"]
    outside = dict(source=None, namespace="elsewhere")
    monitoring = dict(source=None, namespace="monitoring")
    # only the gateway takes traffic from outside
    assert allowed(policies, target=gateway, port=8000, **outside)
    for target, port in ((worker, 9100), (rabbitmq, 5672), (redis, 6379), (redis, 26379), (rabbitmq, 15692)):
        assert not allowed(policies, target=target, port=port, **outside), (target, port)
    # only the gateway and the workers reach RabbitMQ; only the workers reach Redis
    assert allowed(policies, gateway, rabbitmq, 5672) and allowed(policies, worker, rabbitmq, 5672)
    assert allowed(policies, worker, redis, 6379) and allowed(policies, worker, redis, 26379)
    assert not allowed(policies, gateway, redis, 6379) and not allowed(policies, redis, rabbitmq, 5672)
    assert not allowed(policies, rabbitmq, redis, 6379)
    # the clusters talk among themselves
    assert allowed(policies, rabbitmq, rabbitmq, 25672) and allowed(policies, redis, redis, 26379)
    # metrics only from the monitoring namespace
    for target, port in ((worker, 9100), (rabbitmq, 15692), (redis, 9121)):
        assert allowed(policies, target=target, port=port, **monitoring), (target, port)
        assert not allowed(policies, target=target, port=port, **outside), (target, port)
    # every workload has a policy of its own besides the default deny
    for name, labels in workload.items():
        assert any(selects(p["spec"]["podSelector"], labels) for p in policies if p is not deny), name


def test_no_secret_reaches_an_environment_variable(built):
    secret_names = {doc["metadata"]["name"] for doc in built if doc["kind"] == "Secret"}
    assert not secret_names, "the kustomization must not carry Secrets (secret.example.yaml is a template)"
    for doc in built:
        if doc["kind"] not in ("Deployment", "StatefulSet"):
            continue
        spec = doc["spec"]["template"]["spec"]
        for container in spec.get("initContainers", []) + spec["containers"]:
            for item in container.get("env", []):
                assert "secretKeyRef" not in item.get("valueFrom", {}), (doc["metadata"]["name"], item["name"])
            for source in container.get("envFrom", []):
                assert "secretRef" not in source, doc["metadata"]["name"]


def test_the_apps_read_their_secrets_from_the_mounted_files(manifests):
    for name, deployment in of_kind(manifests, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        files = {item["name"]: item["value"] for item in container["env"] if item["name"].endswith("_FILE")}
        wanted = {"AMQP_URI", "API_TOKENS"} if name == "travel-gateway" else {"AMQP_URI", "REDIS_URI"}
        assert files == {f"{key}_FILE": f"{SECRETS_DIR}/{key}" for key in wanted}, name
        (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == SECRETS_DIR]
        (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
        assert mount["readOnly"] and volume["secret"]["secretName"] == "travel-secrets"
        assert {item["key"] for item in volume["secret"]["items"]} == wanted
        assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"]


def test_the_gateways_pre_stop_pause_is_its_shutdown_grace(manifests):
    gateway = of_kind(manifests, "Deployment")["travel-gateway"]["spec"]["template"]["spec"]
    pause = gateway["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
    grace = of_kind(manifests, "ConfigMap")["travel-config"]["data"]["SHUTDOWN_GRACE"]
    assert pause == ["sleep", grace]
    assert gateway["terminationGracePeriodSeconds"] >= 2 * int(grace) + 10  # preStop, grace, then the drain


def test_rabbitmq_loads_the_definitions_compose_loads_and_pauses_a_minority(manifests, built):
    conf = (K8S_DIR / "rabbitmq" / "rabbitmq.conf").read_text()
    assert "cluster_partition_handling = pause_minority" in conf
    assert "definitions.local.path = /etc/rabbitmq/definitions" in conf
    compose_conf = (ROOT / "compose" / "rabbitmq-cluster.conf").read_text()
    assert "cluster_partition_handling = pause_minority" in compose_conf
    compose = (ROOT / "compose" / "docker-compose.yml").read_text()
    assert "./k8s/rabbitmq/definitions.json:/etc/rabbitmq/travel-definitions.json:ro" in compose
    (definitions,) = [d for d in built if d["kind"] == "ConfigMap" and "rabbitmq-definitions" in d["metadata"]["name"]]
    assert json.loads(definitions["data"]["definitions.json"]) == json.loads(
        (K8S_DIR / "rabbitmq" / "definitions.json").read_text()
    )
    (statefulset,) = [d for d in built if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "travel-rabbitmq"]
    assert statefulset["spec"]["replicas"] == 3
    volumes = {v["name"]: v for v in statefulset["spec"]["template"]["spec"]["volumes"]}
    sources = volumes["definitions"]["projected"]["sources"]
    assert [next(iter(s.values()))["items"][0]["path"] for s in sources] == ["10-travel.json", "20-users.json"]


def test_redis_runs_a_sentinel_set_with_its_append_only_file(built):
    (statefulset,) = [d for d in built if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "travel-redis"]
    assert statefulset["spec"]["replicas"] == 3
    containers = {c["name"] for c in statefulset["spec"]["template"]["spec"]["containers"]}
    assert containers == {"redis", "sentinel", "exporter"}
    assert statefulset["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    script = (K8S_DIR / "redis" / "start.sh").read_text()
    assert "--appendonly yes --appendfsync everysec" in script and "sentinel monitor travel" in script
    done = subprocess.run(["sh", "-n", str(K8S_DIR / "redis" / "start.sh")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
