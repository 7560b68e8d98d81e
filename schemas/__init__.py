"""The contract between gateway and workers: payload schemas (marshmallow) and wire errors.

One definition serves the gateway's request validation, the workers' rules and the
OpenAPI document.
"""
