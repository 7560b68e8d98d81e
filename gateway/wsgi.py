import atexit

from gateway import tracing
from gateway.app import create_wsgi_app
from gateway.rpc.proxy_pool import ProxyPool
from gateway.settings import Settings

settings = Settings.from_env()
pool = ProxyPool.from_settings(settings)
app = tracing.wsgi(create_wsgi_app(settings, pool))  # HTTP server spans when tracing is on
atexit.register(pool.close)  # stop every pooled proxy when the server's worker exits
