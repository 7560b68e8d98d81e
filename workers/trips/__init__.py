from workers.trips.service import TripsService

__all__ = ["TripsService"]
