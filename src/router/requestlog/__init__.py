"""The request log: one typed record per request, written off the request path, and read back
for ``router replay`` (docs/requestlog.md).

Owns
  * the record (``record``) and what it keeps of prompts and answers: hashes, or the text
    when the request's policy has ``log: {capture: prompts}`` (``text``);
  * the per-request trail the pipeline's facade (``router.report``) fills, and the record it
    becomes when the request ends (``trail``);
  * the sinks behind one protocol: rotated JSONL files, the embedded default (``sinks``), and
    a Redis stream shared by replicas (``redis_sink``); ``factory`` builds the configured one;
  * the bounded queue and its background writer (``writer``): submitting never blocks or
    fails a request, and every record dropped is counted in metrics;
  * reading a log back from files or a stream (``read``), and replaying it through a candidate
    config offline: the log's latency profile and signals (``profile``), the decisions
    (``replay``), the report (``replay_report``) and the command (``command``).

May import ``router.shapes``, ``router.wire``, ``router.errors``, ``router.metrics``, the config
types and loader, the pure policy code (``classify``, ``decide``) and the tenancy access check
(replay runs them as the server does), and redis-py for the stream. Never ``upstream``,
``dispatch``, ``cache``, ``store`` or ``api``: the pipeline hands the trail what it knows, and
replay calls no provider.
"""
