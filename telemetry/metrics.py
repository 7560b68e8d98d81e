"""What the gateway's and the workers' Prometheus metrics share: their latency buckets, and METRICS_PORT."""

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


def parse_ports(value):
    """METRICS_PORT: `9100`, a range `9100-9109`, or 0 / empty (off): the ports to try, in order."""
    text = str(value if value is not None else "").strip()
    if text in ("", "0"):
        return []
    first, _, last = text.partition("-")
    try:
        first, last = int(first), int(last or first)
    except ValueError:
        raise ValueError(f"METRICS_PORT={value!r}: a port, a range FIRST-LAST, or 0") from None
    if not 0 < first <= last < 65536:
        raise ValueError(f"METRICS_PORT={value!r}: a port, a range FIRST-LAST, or 0")
    return list(range(first, last + 1))
