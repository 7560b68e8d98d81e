"""What every travel service is built from: the rpc entrypoint, call context, storage and idempotency."""
