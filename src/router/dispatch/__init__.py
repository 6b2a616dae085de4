"""Dispatch: every attempt of one request. Timeouts, retries with backoff, fallback along the
decision's chain, hedging, deadlines; each attempt is reported to an observer (``observer``)
that feeds live signals and metrics.

May import: ``upstream``, ``signals``, ``metrics``, ``policy.decision``, ``config`` types,
``shapes``, ``errors``.
"""
