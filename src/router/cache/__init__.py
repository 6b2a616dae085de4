"""The response cache: key and directives (``response``), stored entries (``entry``), single
flight for identical concurrent requests (``flight``), stream replay (``replay``) and the
per-request steps the pipeline runs (``steps``).

May import: ``store``, ``shapes``, ``wire``, ``policy.decision``, ``config`` types. Metrics
reach it only as the ``CacheObserver`` it is given.
"""
