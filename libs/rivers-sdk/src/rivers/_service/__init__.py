"""What every rivers service shares: settings, the gRPC/HTTP runtime, metrics, shutdown.

Services (planner, code server, gateway, storage host) build on this so each has the same
health checks, reflection, Prometheus metrics and two-phase graceful shutdown.
"""
