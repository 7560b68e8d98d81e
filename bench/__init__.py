"""The benchmark harness: `python -m bench` (see bench/cli.py and `python -m bench --help`).

It starts the workers and the gateways under test on free ports, on a RabbitMQ vhost and a Redis
key prefix of its own, seeds data, applies fixed-duration loads (wrk, or the built-in asyncio
generator), measures throughput, latency and CPU per request of every process, and writes a
table, a JSON report and a PNG chart. Everything it starts is removed when it ends.

Modules: cli (options, the run), targets (starting and stopping what is measured), processes (child
processes), rabbitmq (vhosts), seed (data, readiness), scenarios (the requests), routes (each
target's paths for them), load / wrk / loadgen (load generators), measure (one run, CPU and RSS
with psutil), report and chart; profile_pairs (py-spy profiles of two targets, in pairs).
"""
