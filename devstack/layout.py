"""The workers: which services exist, and how they are grouped into `nameko run` processes."""

import sys

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
# nameko's CLI imports pkg_resources (setuptools says it is deprecated) and eventlet (which says the
# same of itself): two notices at every start, about nameko's dependencies, not this project. They
# are silenced where nameko imports them, and nothing else is: PYTHONWARNINGS's syntax, which
# compose/Dockerfile sets too (a test compares) and scripts/test for `nameko test`.
NAMEKO_WARNINGS = (
    "ignore:pkg_resources is deprecated as an API:UserWarning:nameko.cli.main,ignore::Warning:nameko.cli.commands"
)


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


def nameko_command(*args):
    """`nameko ARGS`, with NAMEKO_WARNINGS as the interpreter's -W options."""
    options = [item for spec in NAMEKO_WARNINGS.split(",") for item in ("-W", spec)]
    return [sys.executable, *options, str(BIN / "nameko"), *map(str, args)]


def worker_command(modules=WORKER_MODULES, config=CONFIG):
    """`nameko run` of `modules`, as scripts/run, compose and Kubernetes run them."""
    return nameko_command("run", "--config", config, *modules)
