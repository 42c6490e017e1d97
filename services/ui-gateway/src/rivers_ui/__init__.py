"""rivers UI gateway: web UI, JSON API, SSE events and the public gRPC API."""
