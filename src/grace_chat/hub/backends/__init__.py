"""Shared backplanes: one module per broker (Redis)."""
