"""HTTP plumbing shared by the ASGI and WSGI apps: operations, request parsing, problems."""
