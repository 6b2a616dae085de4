"""Dispatch: every attempt of one request. Timeouts, retries with backoff, fallback along the
decision's chain, hedging, deadlines (``dispatcher``, ``hedge``); a streamed answer handed on
as one object that reports its own attempt when it ends (``stream``); each attempt is reported
to an observer (``attempts``; the app's ``observer.LiveObserver`` feeds signals and metrics).

May import: ``upstream``, ``signals``, ``metrics``, ``policy.decision``, ``config`` types,
``shapes``, ``errors``.
"""
