"""Local copies of the infrastructure for development, tests and drills (clusters on one machine)."""
