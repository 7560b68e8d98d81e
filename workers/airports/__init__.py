from workers.airports.service import AirportsService

__all__ = ["AirportsService"]
