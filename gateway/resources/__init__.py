"""The API's resources: what each operation asks of which service, and what it answers."""
