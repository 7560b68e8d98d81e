from workers.greeting.service import GreetingService

__all__ = ["GreetingService"]
