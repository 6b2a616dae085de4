"""Ingress, one module per wire format (``openai``, ``admin``): parse and validate, authenticate
(``auth``), apply the ASGI limits (``middleware``), call the pipeline and render JSON or SSE with
every ``x-router-*`` header.

May import: ``pipeline``, ``shapes``, ``wire``, ``errors``, ``config`` types. Never litellm or
an upstream adapter (checked by import-linter in CI).
"""
