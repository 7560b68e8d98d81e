"""Calling the nameko services: an asyncio client (ASGI) and a pool of nameko's own
ClusterRpcProxy (WSGI), each declaring its interface (base.py): `call(RpcCall, Caller)`."""
