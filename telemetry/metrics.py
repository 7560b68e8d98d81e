"""What the gateway's and the workers' Prometheus metrics share: their latency buckets, and a
cache of labelled children for the hot path."""

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Children:
    """`metric.labels(*values)`, remembered: labels() validates and converts its arguments on
    every call, which shows on the hot path. Label values are bounded (routes, methods, statuses,
    service methods, outcomes), and so is this cache."""

    def __init__(self, metric):
        self.metric, self.cache = metric, {}

    def __call__(self, *values):
        child = self.cache.get(values)
        if child is None:
            child = self.cache[values] = self.metric.labels(*values)
        return child
