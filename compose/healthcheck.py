"""The image's HEALTHCHECK: 0 when this container's gateway (PORT, 8000) or worker (METRICS_PORT,
9100) answers /health/live with 200, else 1. Standard library only."""

import os
import sys
import urllib.request


def live(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=3) as response:
            return response.status == 200
    except OSError:
        return False


if __name__ == "__main__":
    ports = {os.environ.get("PORT", "8000"), os.environ.get("METRICS_PORT", "9100").split("-")[0]}
    sys.exit(0 if any(live(port) for port in ports) else 1)
