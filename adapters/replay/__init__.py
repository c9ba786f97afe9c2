"""Replay caches for signed request ids (``X-Request-ID``): Redis for many workers, a dict for one process."""

from adapters.replay.memory import InProcessReplayCache

__all__ = ["InProcessReplayCache"]
