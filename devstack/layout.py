"""The workers: which services exist, and how they are grouped into `nameko run` processes."""

from devstack.processes import BIN, ROOT

SERVICES = {  # short name: (module, service name)
    "airports": ("workers.airports", "airports_service"),
    "trips": ("workers.trips", "trips_service"),
    "greeting": ("workers.greeting", "greeting_service"),
}
SERVICE_NAMES = [service for _, service in SERVICES.values()]
WORKER_MODULES = tuple(module for module, _ in SERVICES.values())
LAYOUTS = {
    "combined": "airports+trips+greeting",  # one `nameko run` with all three services (scripts/run)
    "split": "airports,trips,greeting",  # one process per service (compose, Kubernetes)
}
CONFIG = ROOT / "workers" / "config.yml"


def parse_layout(spec):
    """'combined', 'split', or groups like 'airports:2,trips+greeting': each comma-separated group is
    one `nameko run` of the '+'-joined services, started `:N` times. [(short names, replicas)]."""
    spec = LAYOUTS.get(spec, spec)
    groups = []
    for group in spec.split(","):
        names, _, replicas = group.strip().partition(":")
        services = [name.strip() for name in names.split("+") if name.strip()]
        unknown = [name for name in services if name not in SERVICES]
        if not services or unknown:
            raise ValueError(f"bad worker group {group!r}: services are {', '.join(SERVICES)}")
        count = int(replicas) if replicas else 1
        if count < 1:
            raise ValueError(f"bad replica count in {group!r}")
        groups.append((services, count))
    missing = set(SERVICES) - {name for services, _ in groups for name in services}
    if missing:
        raise ValueError(f"worker layout {spec!r} runs no {', '.join(sorted(missing))}")
    return groups


def worker_variable(key):
    """--worker-env's KEY or SERVICE:KEY: (SERVICE or None, KEY). ValueError unless SERVICE is one
    of SERVICES and KEY is a plain name."""
    service, scoped, name = key.partition(":")
    if not scoped:
        return None, key
    if service not in SERVICES or not name or ":" in name:
        raise ValueError(f"--worker-env SERVICE:KEY=VALUE: SERVICE is one of {', '.join(SERVICES)}, not {key!r}")
    return service, name


def worker_command(modules=WORKER_MODULES, config=CONFIG):
    """`nameko run` of `modules`, as scripts/run, compose and Kubernetes run them."""
    return [str(BIN / "nameko"), "run", "--config", str(config), *modules]
