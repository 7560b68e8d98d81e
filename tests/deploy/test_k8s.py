"""compose/k8s/: every manifest validates against the Kubernetes OpenAPI schemas, offline
(kubernetes-validate ships them), and the Deployments, autoscalers, Services, ConfigMap and
Secret fit together.

Needs the PyPI package kubernetes-validate (pip install 'kubernetes-validate>=1.37').
"""

import re
import socket
from pathlib import Path

import pytest
import yaml

from tests.support.worker_config import default_of

ROOT = Path(__file__).resolve().parents[2]
K8S_DIR = ROOT / "compose" / "k8s"
SECRET_TEMPLATE = "secret.example.yaml"
WORKERS = ["airports", "trips", "greeting"]
COMPONENTS = [*WORKERS, "gateway"]
OLDEST_KUBERNETES = "1.29.0"  # autoscaling/v2 and policy/v1 are GA well before this
IMAGE = re.compile(r"nameko-travel:\d+\.\d+\.\d+")

SECRET_KEYS = {"AMQP_URI", "REDIS_URI", "API_TOKENS"}
SECRETS_DIR = "/etc/travel/secrets"
OTHER_SECRETS = {"travel-rabbitmq-users", "travel-rabbitmq-cookie", "travel-redis-auth"}  # the broker's, Redis's
CONFIG_KEYS = {
    "REDIS_KEY_PREFIX",
    "REDIS_WAIT_REPLICAS",
    "MAX_WORKERS",
    "METRICS_PORT",
    "RPC_TIMEOUT",
    "RPC_CONNECTIONS",
    "RPC_MAX_IN_FLIGHT",
    "MAX_BODY_BYTES",
    "CORS_ORIGINS",
    "SHUTDOWN_GRACE",
    "LOG_LEVEL",
    "LOG_FORMAT",
}


def kubernetes_validate():
    try:
        import kubernetes_validate
    except ImportError:
        pytest.fail(
            "kubernetes-validate is not installed: the manifests are validated with it "
            "(pip install 'kubernetes-validate>=1.37', in the test extra)"
        )
    return kubernetes_validate


def manifest_files():
    return sorted(path for path in K8S_DIR.glob("*.yaml") if path.name != "kustomization.yaml")


@pytest.fixture(scope="module")
def manifests():
    """[(file name, resource)] for every resource under compose/k8s/."""
    found = [(path.name, doc) for path in manifest_files() for doc in yaml.safe_load_all(path.read_text()) if doc]
    assert found, "no manifests under compose/k8s/"
    return found


def of_kind(manifests, kind):
    return {doc["metadata"]["name"]: doc for _, doc in manifests if doc["kind"] == kind}


def test_every_manifest_validates_offline(manifests, monkeypatch):
    validator = kubernetes_validate()

    def no_network(*args, **kwargs):
        raise AssertionError("kubernetes-validate tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    for version in (OLDEST_KUBERNETES, validator.latest_version()):
        for filename, doc in manifests:
            where = f"{filename}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')} (Kubernetes {version})"
            try:
                validator.validate(doc, version, strict=True)
            except validator.ValidationError as error:
                path = ".".join(str(item) for item in error.path)
                pytest.fail(f"{where}: {path}: {error.message}")
            except validator.SchemaNotFoundError as error:
                pytest.fail(f"{where}: {error.message}")


def test_a_deployment_per_component(manifests):
    deployments = of_kind(manifests, "Deployment")
    assert set(deployments) == {f"travel-{name}" for name in COMPONENTS}
    for name, deployment in deployments.items():
        selector = deployment["spec"]["selector"]["matchLabels"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), name
        assert "replicas" not in deployment["spec"], f"{name}: the HorizontalPodAutoscaler owns replicas"


def test_every_container_has_probes_and_resources(manifests):
    for name, deployment in of_kind(manifests, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        for container in pod["containers"]:
            assert IMAGE.fullmatch(container["image"]), f"{name}: {container['image']}"
            for probe in ("readinessProbe", "livenessProbe"):
                assert probe in container, f"{name}: no {probe}"
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"].get(bound, {})), f"{name}: {bound}"
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name


def test_probe_endpoints(manifests):
    deployments = of_kind(manifests, "Deployment")
    expected = {"gateway": 8000, **{worker: 9100 for worker in WORKERS}}
    for component, port in expected.items():
        container = deployments[f"travel-{component}"]["spec"]["template"]["spec"]["containers"][0]
        # The gateway stays in rotation while a service is down, to answer 503 problems itself.
        ready = "/health/live" if component == "gateway" else "/health/ready"
        for probe, path in (("readinessProbe", ready), ("livenessProbe", "/health/live")):
            get = container[probe]["httpGet"]
            assert get["path"] == path, f"{component} {probe}"
            assert container_port(container, get["port"]) == port, f"{component} {probe}"


def test_commands(manifests):
    deployments = of_kind(manifests, "Deployment")
    for worker in WORKERS:
        container = deployments[f"travel-{worker}"]["spec"]["template"]["spec"]["containers"][0]
        assert container["command"] == [
            *["python", "-m", "workers.secret_files"],  # AMQP_URI and REDIS_URI from their files
            *["nameko", "run", "--config", "/app/config/workers.yml", f"workers.{worker}"],
        ]
    gateway = deployments["travel-gateway"]["spec"]["template"]["spec"]["containers"][0]
    assert gateway["command"][:2] == ["uvicorn", "gateway.asgi:app"]
    assert gateway["command"][gateway["command"].index("--http") + 1] == "gateway.protocol:BoundedHttpProtocol"
    assert gateway["command"][gateway["command"].index("--port") + 1] == "8000"


def test_every_worker_runs_as_many_calls_at_once_as_workers_config_yml_gives_it(manifests):
    # one setting, as scripts/run has it (BENCHMARKS.md, "Trade-offs"); no pod overrides it
    deployments = of_kind(manifests, "Deployment")
    assert of_kind(manifests, "ConfigMap")["travel-config"]["data"]["MAX_WORKERS"] == default_of("max_workers")
    for worker in WORKERS:
        container = deployments[f"travel-{worker}"]["spec"]["template"]["spec"]["containers"][0]
        assert "MAX_WORKERS" not in {item["name"] for item in container.get("env", [])}, worker


def test_an_autoscaler_per_component(manifests):
    autoscalers = [doc for _, doc in manifests if doc["kind"] == "HorizontalPodAutoscaler"]
    targets = {}
    for hpa in autoscalers:
        assert hpa["apiVersion"] == "autoscaling/v2"
        spec = hpa["spec"]
        assert spec["scaleTargetRef"]["kind"] == "Deployment"
        assert 1 <= spec.get("minReplicas", 1) <= spec["maxReplicas"]
        assert any(
            metric["type"] == "Resource" and metric["resource"]["name"] == "cpu" for metric in spec["metrics"]
        ), hpa["metadata"]["name"]
        targets[spec["scaleTargetRef"]["name"]] = hpa
    assert set(targets) == {f"travel-{name}" for name in COMPONENTS}


def test_gateway_service(manifests):
    service = of_kind(manifests, "Service")["travel-gateway"]
    assert service["spec"].get("type", "ClusterIP") == "ClusterIP"
    gateway = of_kind(manifests, "Deployment")["travel-gateway"]
    pod_labels = gateway["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    container = gateway["spec"]["template"]["spec"]["containers"][0]
    ports = [(port["port"], container_port(container, port["targetPort"])) for port in service["spec"]["ports"]]
    assert ports == [(80, 8000), (9100, 9100)]  # the API, and /metrics on METRICS_PORT (travel-config)


def test_worker_metrics_service_selects_every_worker(manifests):
    service = of_kind(manifests, "Service")["travel-worker-metrics"]
    deployments = of_kind(manifests, "Deployment")
    for worker in WORKERS:
        template = deployments[f"travel-{worker}"]["spec"]["template"]
        assert service["spec"]["selector"].items() <= template["metadata"]["labels"].items(), worker
        container = template["spec"]["containers"][0]
        assert [container_port(container, port["targetPort"]) for port in service["spec"]["ports"]] == [9100]
    gateway_labels = deployments["travel-gateway"]["spec"]["template"]["metadata"]["labels"]
    assert not service["spec"]["selector"].items() <= gateway_labels.items()


def test_secret_holds_the_uris_and_configmap_the_rest(manifests):
    secrets = of_kind(manifests, "Secret")
    configmaps = of_kind(manifests, "ConfigMap")
    assert set(secrets) == {"travel-secrets", *OTHER_SECRETS} and set(configmaps) == {"travel-config"}
    secret = secrets["travel-secrets"]
    secret_keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
    assert secret_keys == SECRET_KEYS
    assert secret["stringData"]["AMQP_URI"].startswith("amqp://")
    assert secret["stringData"]["REDIS_URI"].startswith("redis+sentinel://")  # the StatefulSet travel-redis
    config = configmaps["travel-config"]["data"]
    assert set(config) == CONFIG_KEYS
    assert config["REDIS_WAIT_REPLICAS"] == "2"  # both replicas: a split brain lost no write (docs/faults.md)
    assert not any("://" in value for value in config.values()), "URIs belong in the Secret"
    for name, deployment in of_kind(manifests, "Deployment").items():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        sources = {next(iter(source)): next(iter(source.values()))["name"] for source in container["envFrom"]}
        assert sources == {"configMapRef": "travel-config"}, name
    # The probes use the port the workers are told to serve on.
    assert int(config["METRICS_PORT"]) == 9100


def test_kustomization_lists_the_resources_but_not_the_secret_template():
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    listed = kustomization["resources"]
    for resource in listed:
        assert (K8S_DIR / resource).is_file(), resource
    assert set(listed) == {path.name for path in manifest_files()} - {SECRET_TEMPLATE}
    images = [image["name"] for image in kustomization.get("images", [])]
    assert images == ["nameko-travel", "rabbitmq", "redis", "oliver006/redis_exporter"]
    assert kustomization["namespace"] == "travel"


def container_port(container, port):
    """A probe's or Service's port, by number or by the container port's name."""
    if isinstance(port, int):
        return port
    matches = [item["containerPort"] for item in container.get("ports", []) if item.get("name") == port]
    assert matches, f"no container port named {port!r}"
    return matches[0]
