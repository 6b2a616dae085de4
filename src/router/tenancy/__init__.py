"""Tenancy: who may call (keys), what they may name (access), how fast (limits), how much
(budgets), and where the money went (spend).

Modules: ``keys`` (key material and hashes), ``rules`` (the ``auth:`` section as runtime rules,
validated against the catalog and policies), ``access`` (403s and the caller's ``/v1/models``),
``periods`` (UTC budget periods and reset times), ``admission`` (reserve before dispatch,
settle after; the only module here that touches the store; ``asks`` builds what it sends and
``batch`` coalesces a worker's round trips), ``refusals`` (what a 429 and a skipped deployment
say), ``headers`` (``x-ratelimit-*``),
``spend`` (spend rows and tables).

May import: ``store``, config types (``config.schema``, ``config.catalog``), ``shapes``,
``errors``. Never ``policy``'s decision logic, ``dispatch``, ``upstream`` or ``api``.
"""
