"""The project's nameko runtime: how a call reaches a worker and its answer leaves, made cheaper
and sturdier than nameko 2.14's own, through nameko's extension points. The services use only:

    rpc                     the entrypoint (nameko's @rpc, with typed errors and one-write replies)
    RpcProxy                a proxy to another service, on a reply queue of its own connection
    call_idempotent         a call through it, asked again while unanswered, within a deadline
    IncomingCallProvider    the call's request id and delivery facts (IncomingCall)

`ServiceContainer` is named by workers/config.yml. Everything else here, and every private
attribute of nameko, kombu, py-amqp and eventlet the project touches, stays inside this package;
docs/design.md, "The workers' runtime", says what each part changes and what it saves.
"""

from workers.runtime.container import ServiceContainer
from workers.runtime.context import IncomingCall, IncomingCallProvider, current_request_id
from workers.runtime.entrypoint import rpc
from workers.runtime.proxy import RpcProxy, call_idempotent

__all__ = [
    "IncomingCall",
    "IncomingCallProvider",
    "RpcProxy",
    "ServiceContainer",
    "call_idempotent",
    "current_request_id",
    "rpc",
]
