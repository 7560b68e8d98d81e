"""The benchmark harness's --tracing option (a run with it is a smoke: `python -m bench --smoke
--tracing 100`); here, what it parses to and what it sets."""

import argparse

import pytest

from bench.cli import parser, tracing_share
from bench.targets import BenchTargets, Options


@pytest.mark.parametrize(("value", "share"), [("off", None), ("100", 1.0), ("1", 0.01), ("0.5%", 0.005)])
def test_tracing_takes_off_or_a_percentage(value, share):
    assert tracing_share(value) == share


@pytest.mark.parametrize("value", ["on", "101", "-1"])
def test_tracing_refuses_anything_else(value):
    with pytest.raises(argparse.ArgumentTypeError):
        tracing_share(value)


def test_off_by_default_sets_no_otel_variable():
    assert parser().parse_args([]).tracing is None
    bench_targets = BenchTargets(["asgi"], Options())
    try:
        assert not any(key.startswith("OTEL_") for key in bench_targets.worker_env(["airports"]))
        assert not any(key.startswith("OTEL_") for key in bench_targets.gateway_env())
    finally:
        bench_targets.close()


def test_on_points_gateways_and_workers_at_the_sink_with_the_sampling_asked():
    bench_targets = BenchTargets(["asgi"], Options(tracing=0.01))
    try:
        bench_targets._start_sink()
        for env in (bench_targets.worker_env(["trips"]), bench_targets.gateway_env()):
            assert env["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith("http://127.0.0.1:")
            assert (env["OTEL_TRACES_SAMPLER"], env["OTEL_TRACES_SAMPLER_ARG"]) == ("parentbased_traceidratio", "0.01")
        assert bench_targets.describe()["tracing"]["sampled"] == 0.01
    finally:
        bench_targets.close()
    assert not bench_targets.sink.running()
