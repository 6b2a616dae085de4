"""Routing quality you can measure: labelled outcome data in, evidence out.

Owns
  * the typed outcome records (``outcomes``) and the adapters that read them (``routellm``
    for the RouteLLM evaluation files, ``outcomes.read_jsonl`` for our own JSONL format);
  * the fixed-seed hold-out of prompts the difficulty signal never trains on (``holdout``);
  * the offline simulation of policies over outcome data, with cost from token counts times
    catalog prices and latency from each model's profile (``simulate``, ``baselines``);
  * the report: quality, cost, APGR, the threshold sweep as JSON and a matplotlib PNG, the
    task classifier's confusion matrix (``report``, ``plot``);
  * training the difficulty signal with scikit-learn (``train``) and writing measured
    quality into a catalog file (``write_quality``).

Walls: imports ``router.config`` and ``router.policy`` (the same ``decide()`` the server runs)
and nothing with I/O to providers or stores: never ``upstream``, ``dispatch``, ``store`` or
``api``. scikit-learn and matplotlib are imported only inside the functions that need them
(the ``eval`` extra); the server never imports this package.
"""
