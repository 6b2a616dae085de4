"""The request log: one typed record per request, written off the request path, and read back
for ``router replay``.

Owns
  * the record (``record``): what a request was, how it was routed and how it ended; prompt
    and answer text only when the policy captures them, else their hashes (``text``);
  * the sinks behind one protocol (``sinks``): rotated JSONL files, the embedded default, and
    a Redis stream shared by replicas (``redis_sink``); ``factory`` builds one from config;
  * the bounded queue and its background writer (``writer``): submitting never blocks or
    fails a request, and every record dropped is counted in metrics;
  * reading a log back, from files or a Redis stream (``read``), and replaying it through a
    candidate config offline (``replay``, ``replay_report``).

May import ``router.shapes``, ``router.metrics``, the config and decision types, and for
replay the pure policy code (``classify``, ``decide``); redis-py for the stream sink. Never
``upstream``, ``dispatch``, ``cache``, ``store`` or ``api``: the pipeline hands the writer a
finished record, and replay calls no upstream.
"""
