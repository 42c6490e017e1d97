"""Definitions users write (assets, jobs, repositories) and their snapshot models."""
