"""Ingress, one module per wire format (``openai``, ``anthropic``, ``admin``): parse and
validate, authenticate (``auth``), apply the ASGI limits (``middleware``, ``admission``), call
the pipeline and render JSON or SSE; every ``x-router-*`` header is rendered by one function
(``headers.router_headers``), which also parses the overrides sent as headers.

May import: ``pipeline``, ``report``, ``shapes``, ``wire``, ``errors``, ``config`` types,
``tenancy``, ``translate``. Never litellm or an upstream adapter, directly or through another
module (checked by import-linter in CI).
"""
