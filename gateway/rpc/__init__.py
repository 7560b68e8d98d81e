"""Calling the nameko services: an asyncio client (ASGI) and a pool of nameko's own
ClusterRpcProxy (WSGI), behind one interface: `call(RpcCall, Caller)`."""
