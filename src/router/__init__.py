"""router: an OpenAI-compatible gateway that routes each request by declarative policy."""

from router.settings import make_offline

# Before anything can import litellm: no remote price-map fetch, no telemetry.
make_offline()
