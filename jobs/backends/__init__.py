"""Backends behind :class:`jobs.Queue`: ``local`` (worker processes here) and ``redis`` (RQ)."""
