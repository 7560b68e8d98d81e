"""Calling the nameko services over AMQP with nameko's wire protocol: an asyncio client (ASGI) and
a pool of blocking links (WSGI), each declaring its interface (base.py): `call(RpcCall, Caller)`."""
