"""Private copies of the infrastructure, for drills that break it: a Redis server and a RabbitMQ
node of the test's own, on free ports, in temporary directories, stopped and started at will
(the machine's shared broker and Redis are never touched). The Redis processes are devstack's
(devstack/redis_sentinel.py), which also makes Sentinel sets."""

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import redis

from devstack import rabbitmq_cluster as devstack_rabbitmq
from devstack.isolation import wait_port
from devstack.redis_sentinel import RedisProcess, data_settings, wait_until
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


class PrimaryAndReplica:
    """Two RedisServers, the second a replica of the first (in sync once started).
    `freeze_replica` (SIGSTOP) keeps its link open and confirms nothing, as a cut-off replica does."""

    def __init__(self):
        self.primary, self.replica = RedisServer(), RedisServer()

    def start(self, timeout=10):
        """Both started, the replica in sync and confirming (a WAIT on the primary answered)."""
        try:
            self.primary.start()
            self.replica.start()
            with redis.Redis(port=self.replica.port) as replica, redis.Redis(port=self.primary.port) as primary:
                replica.replicaof("127.0.0.1", self.primary.port)
                synced = lambda: replica.info("replication").get("master_link_status") == "up"  # noqa: E731
                wait_until(synced, timeout, "the replica did not sync", interval=0.05)
                # A replica counts for WAIT from its first acknowledgement, up to a second after the sync.
                primary.set("primary-and-replica:started", 1)
                if primary.wait(1, int(timeout * 1000)) != 1:
                    raise TimeoutError("the replica did not confirm a write")
        except BaseException:
            self.close()
            raise
        return self

    def freeze_replica(self):
        os.kill(self.replica.process.pid, signal.SIGSTOP)

    def thaw_replica(self):
        os.kill(self.replica.process.pid, signal.SIGCONT)

    def close(self):
        """Both killed (SIGKILL, which also ends a frozen one): nothing of theirs outlives the test,
        and Redis ignores a SIGTERM that comes while it writes its first append-only file after a
        sync ("Writing initial AOF, can't exit"): a CI run's replica never stopped so."""
        for server in (self.replica, self.primary):
            try:
                server.crash()
            finally:
                shutil.rmtree(server.dir, ignore_errors=True)


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
            # what Python 3.13's default strict verification (VERIFY_X509_STRICT) asks of a CA
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
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
        (self.dir / "san.ext").write_text(
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
            "authorityKeyIdentifier=keyid,issuer\n"  # Python 3.13's strict verification asks for it
        )
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


class RabbitNode(devstack_rabbitmq.RabbitNode):
    """A second RabbitMQ node of this machine's installation, on its own ports (AMQP, and AMQPS
    with `tls`), with its own data directory: devstack's, named for the drills."""

    def __init__(self, tls=None):
        super().__init__(name=f"travel-drill-{os.getpid()}-{free_port()}@localhost", tls=tls)

    def start(self):
        return super().start(timeout=60)

    def stop(self):
        """A clean stop (rabbitmqctl stop), as a broker restart would."""
        self.ctl("stop", timeout=60, check=False)
        wait_port(self.port, 30, up=False)


# Private attributes of libraries this project relies on: a library upgrade that renames one breaks
# the code using it quietly, so tests/workers/test_private_attributes.py checks they still exist.
LIBRARY_PRIVATES = [
    # (module, class, attribute)
    # workers/runtime/proxy.py: nameko's ReplyListener's table of calls awaiting replies
    ("nameko.rpc", "ReplyListener", "_reply_events"),
    # workers/runtime/replies.py: py-amqp's transport write, to send a reply and its ack as one
    ("amqp.transport", "_AbstractTransport", "_write"),
    # ... and kombu's state of a message, which it marks acknowledged as kombu's own ack would
    ("kombu.message", "Message", "_state"),
    # workers/runtime/transport.py: py-amqp's TCP transport's read, the buffer it keeps (which its
    # read_frame also refills on a timeout) and the socket's recv its setup binds; and
    # `amqp.transport.Transport()` picking the class by its module name (tests/workers/test_transport.py)
    ("amqp.transport", "TCPTransport", "_read"),
    ("amqp.transport", "TCPTransport", "_read_buffer"),
    ("amqp.transport", "TCPTransport", "_quick_recv"),
    ("amqp.transport", "TCPTransport", "_setup_transport"),
    # gateway/rpc/blocking_link.py: a py-amqp channel's closing state, set to close it without
    # waiting for the Close-Ok (close_without_waiting)
    ("amqp.channel", "Channel", "is_closing"),
    # workers/runtime/failover.py: nameko's consumers not cancelled yet, which go back to the
    # default priority after a reconnection
    ("nameko.messaging", "QueueConsumer", "_consumers"),
    # workers/runtime/container.py: the worker steps it overrides (and tests/eventlet/
    # test_consumer.py checks the body it copies) and calls, and the pool it asks for a free slot
    ("nameko.containers", "ServiceContainer", "_run_worker"),
    ("nameko.containers", "ServiceContainer", "_inject_dependencies"),
    ("nameko.containers", "ServiceContainer", "_worker_setup"),
    ("nameko.containers", "ServiceContainer", "_worker_result"),
    ("nameko.containers", "ServiceContainer", "_worker_teardown"),
    ("nameko.containers", "ServiceContainer", "_worker_pool"),
    # ... and the pool's semaphore, whose counter and balance say whether a slot is free for a
    # newcomer (eventlet documents neither the attribute nor that a newcomer queues behind waiters)
    ("eventlet.greenpool", "GreenPool", "sem"),
    # gateway/protocol.py: uvicorn's httptools protocol (not a documented API) — the httptools
    # callbacks it overrides, the answer uvicorn sends to a parser error, and the state it reads
    *(
        ("uvicorn.protocols.http.httptools_impl", "HttpToolsProtocol", attribute)
        for attribute in (
            "data_received",
            "on_message_begin",
            "on_url",
            "on_header",
            "on_headers_complete",
            "on_message_complete",
            "send_400_response",
            "server_state",
            "parser",
            "headers",
            "cycle",
            "client",
            "loop",
            "transport",
        )
    ),
    ("uvicorn.protocols.http.httptools_impl", "RequestResponseCycle", "response_complete"),
]
