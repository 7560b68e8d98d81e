"""The development stack: everything the project starts for itself, started one way.

bench, the tests, the drills and scripts/run all use it: `layout` (which services run in which
`nameko run` process), `gateways` (the command line of each gateway kind), `isolation` (a vhost,
a Redis key prefix and free ports of a run's own), `processes` (children in sessions of their
own, stopped whatever happens), `rabbitmq` (vhost administration), `stack` (workers and gateways
as one context manager), `http` (the one blocking HTTP client), `otlp_sink` (an OTLP/HTTP trace
receiver: tracing tests, traced benchmarks); and local clusters: `rabbitmq_cluster` (RabbitMQ
nodes, clustered) and `redis_sentinel` (a Redis primary, two replicas, three sentinels), which
`cluster` (scripts/cluster up|down|status) runs together. A tool of a checkout: not installed
with the wheel (setup.cfg).
"""
