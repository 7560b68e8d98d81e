"""A local cluster anyone can start: RabbitMQ nodes (`rabbitmq_cluster`) and a Redis Sentinel set
(`redis_sentinel`), from the installed Debian packages, in temporary directories, on free ports.
`scripts/cluster up|down|status` drives both."""
