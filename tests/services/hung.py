"""A stand-in airports_service that takes HANG_SECONDS to answer `get`: for timeouts, saturation and
graceful stops (on the travel services' own rpc entrypoint, so a stop exercises their way of replying)."""

import os
import time

from workers.runtime.entrypoint import rpc

HANG_SECONDS = float(os.environ.get("HANG_SECONDS", "3"))


class HungAirportsService:
    name = "airports_service"

    @rpc
    def get(self, airport_id):
        time.sleep(HANG_SECONDS)  # nameko run makes it yield
        return {"id": airport_id, "name": "late", "iata": None, "created_at": "2026-01-01T00:00:00.000Z"}

    @rpc
    def health(self):
        return {}
