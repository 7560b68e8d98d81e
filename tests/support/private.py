"""Private copies of the infrastructure, for drills that break it: a Redis server and a RabbitMQ
node of the test's own, on free ports, in temporary directories, stopped and started at will
(the machine's shared broker and Redis are never touched). The Redis processes are devstack's
(devstack/redis_sentinel.py), which also makes Sentinel sets."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from devstack.redis_sentinel import RedisProcess, data_settings, wait_port
from tests.support.processes import free_port


class RedisServer:
    """redis-server with an append-only file (appendfsync everysec, as the compose file has it),
    optionally TLS-only with the given certificates: devstack's RedisProcess, as the Sentinel set's
    nodes are, with the settings of one standalone server."""

    def __init__(self, tls=None):
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="redis-"))
        self.tls = tls
        settings = data_settings(self.port)
        if tls:
            settings = [line for line in settings if line[0] != "port"] + [
                ("port", 0),
                ("tls-port", self.port),
                ("tls-cert-file", tls.cert),
                ("tls-key-file", tls.key),
                ("tls-ca-cert-file", tls.ca),
                ("tls-auth-clients", "no"),
            ]
        self.process = RedisProcess("redis", self.port, self.dir, settings)

    @property
    def uri(self):
        if self.tls:
            return f"rediss://127.0.0.1:{self.port}/0?ssl_ca_certs={self.tls.ca}"
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process.start()
        return self

    def stop(self):
        """A clean shutdown (SIGTERM: Redis flushes its append-only file first)."""
        self.process.stop()

    def crash(self):
        self.process.kill()

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Certificates:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost (openssl)."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="tls-"))
        self.ca, self.cert, self.key = self.dir / "ca.pem", self.dir / "server.pem", self.dir / "server.key"
        ca_key = self.dir / "ca.key"
        run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=self.dir)  # noqa: E731
        run(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(ca_key),
            "-out",
            str(self.ca),
            "-days",
            "2",
            "-subj",
            "/CN=travel-test-ca",
        )
        run(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(self.key),
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        )
        (self.dir / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        run(
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            str(self.ca),
            "-CAkey",
            str(ca_key),
            "-CAcreateserial",
            "-out",
            str(self.cert),
            "-days",
            "2",
            "-extfile",
            "san.ext",
        )
        self.dir.chmod(0o755)  # RabbitMQ runs as its own user and must read them
        for path in self.dir.iterdir():
            path.chmod(0o644)

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class RabbitNode:
    """A second RabbitMQ node of this machine's installation, on its own ports (AMQP, and AMQPS
    with `tls`), with its own data directory. rabbitmq-server drops to the rabbitmq user."""

    def __init__(self, tls=None):
        self.name = f"travel-drill-{os.getpid()}-{free_port()}@localhost"
        self.port, self.tls_port, self.dist_port = free_port(), free_port(), free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="rabbit-"))
        self.tls = tls
        (self.dir / "mnesia").mkdir()
        (self.dir / "log").mkdir()
        (self.dir / "enabled_plugins").write_text("[].\n")
        config = [f"listeners.tcp.default = {self.port}", "loopback_users = none"]
        if tls:
            config += [
                f"listeners.ssl.default = {self.tls_port}",
                f"ssl_options.cacertfile = {tls.ca}",
                f"ssl_options.certfile = {tls.cert}",
                f"ssl_options.keyfile = {tls.key}",
                "ssl_options.verify = verify_none",
                "ssl_options.fail_if_no_peer_cert = false",
            ]
        (self.dir / "rabbitmq.conf").write_text("\n".join(config) + "\n")
        shutil.chown(self.dir, "rabbitmq", "rabbitmq")
        for path in self.dir.rglob("*"):
            shutil.chown(path, "rabbitmq", "rabbitmq")
        self.dir.chmod(0o755)

    @property
    def uri(self):
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    @property
    def tls_uri(self):
        return f"amqps://guest:guest@localhost:{self.tls_port}/"

    def _env(self):
        return {
            **os.environ,
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(self.dir / "pid"),
        }

    def start(self):
        subprocess.run(["rabbitmq-server", "-detached"], env=self._env(), check=True, capture_output=True)
        try:
            wait_port(self.port, 60)
        except TimeoutError:
            raise RuntimeError(
                f"RabbitMQ node {self.name} did not start; run `rabbitmq-server` with the "
                f"environment of RabbitNode._env() to see why (data in {self.dir})"
            ) from None
        if self.tls:
            wait_port(self.tls_port, 30)
        return self

    def stop(self):
        subprocess.run(["rabbitmqctl", "-n", self.name, "stop"], env=self._env(), capture_output=True, timeout=60)
        wait_port(self.port, 30, up=False)

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
