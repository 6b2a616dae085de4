"""Translations between the two wire formats router speaks, one module per pair, named as the
request travels (client's format -> provider's format), each holding both directions of that
path: the request going out and the answer coming back (the stream back in ``<pair>_stream``;
Claude's whole answer to an OpenAI client in ``openai_to_anthropic_answer``).

- ``openai_to_anthropic``: an OpenAI Chat Completions client, a Claude deployment;
- ``anthropic_to_openai``: an Anthropic Messages client, an OpenAI-side deployment;
- ``thinking``: an Anthropic Messages client, a Claude deployment, when another model answered
  the tool loop's last turn (Claude's thinking rule; the one change on that path).

Pure functions and small stateful stream translators over JSON dicts: no I/O, nothing of
router's beyond ``errors`` and ``shapes``, so each is tested as a table. A parameter the other
side cannot honour is refused with an ``InvalidRequest`` that names it, never dropped; the
``unsupported`` functions list such parameters ahead of time for routing.
"""
