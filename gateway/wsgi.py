"""`gunicorn gateway.wsgi:app`: the WSGI gateway, configured from the environment."""

from gateway.app import create_wsgi_app

app = create_wsgi_app()
