"""The nameko services that hold the travel domain: its rules and all of its data (Redis)."""
