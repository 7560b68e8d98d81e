"""Fault drills: load and faults against a running deployment, and verdicts on how it behaved.

    python -m drills worker-failure --url http://localhost:8000 --fault "docker compose kill -s KILL airports"

Each drill returns a Report: passed or not, with the findings that decided it. The test suite
(tests/drills) runs the same drills against real processes it starts and breaks itself.
"""
