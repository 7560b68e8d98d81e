"""bench/targets.py: --worker-env KEY=VALUE reaches every worker process, SERVICE:KEY=VALUE only
those running SERVICE, whatever the order they were given in."""

import shutil

import pytest

from bench.cli import main
from bench.targets import BenchTargets, Options


def test_a_service_scoped_variable_reaches_only_the_processes_running_that_service():
    options = Options(worker_env={"airports:MAX_WORKERS": "5", "MAX_WORKERS": "10", "LOG_LEVEL": "DEBUG"})
    bench_targets = BenchTargets(["asgi"], options, "envtest")
    try:
        airports, trips = bench_targets.worker_env(["airports"]), bench_targets.worker_env(["trips"])
        combined = bench_targets.worker_env(["airports", "trips", "greeting"])
    finally:
        shutil.rmtree(bench_targets.tmp, ignore_errors=True)
    assert airports["MAX_WORKERS"] == "5" and combined["MAX_WORKERS"] == "5"
    assert trips["MAX_WORKERS"] == "10"
    assert airports["LOG_LEVEL"] == trips["LOG_LEVEL"] == "DEBUG"
    assert not any(":" in key for key in airports)
    assert airports["REDIS_KEY_PREFIX"] == "bench-envtest:" and airports["METRICS_PORT"] == "0"


@pytest.mark.parametrize("value", ["nowhere:MAX_WORKERS=5", "airports:MAX:WORKERS=5", "airports:=5"])
def test_a_scoped_variable_names_one_known_service(value):
    with pytest.raises(SystemExit, match="SERVICE is one of airports, trips, greeting"):
        main(["--worker-env", value])


def test_a_scoped_variable_reaching_other_services_in_its_process_is_reported(capsys):
    # stopped by the bad --rounds after the check, before anything starts
    with pytest.raises(SystemExit, match="--rounds"):
        main(["--worker-env", "airports:MAX_WORKERS=5", "--workers-layout", "combined", "--rounds", "0"])
    assert "also reaches greeting, trips" in capsys.readouterr().err
