"""`gunicorn gateway.wsgi:app`: the WSGI gateway, configured from the environment."""

from gateway import tracing
from gateway.app import create_wsgi_app

app = tracing.wsgi(create_wsgi_app())  # HTTP server spans when tracing is on, else the app itself
