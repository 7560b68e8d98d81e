import atexit

from gateway.app import create_wsgi_app
from gateway.rpc.proxy_pool import ProxyPool
from gateway.settings import Settings

settings = Settings.from_env()
pool = ProxyPool.from_settings(settings)
app = create_wsgi_app(settings, pool)
atexit.register(pool.close)  # stop every pooled proxy when the server's worker exits
