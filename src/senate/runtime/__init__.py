"""The real driver: asyncio transport, timers and durable storage around an engine."""
