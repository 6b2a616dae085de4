"""Span attribute names: the OpenTelemetry GenAI semantic conventions where they have one,
``router.*`` for what only router knows. Strings, not the semconv package's ``_incubating``
module, which may move between releases."""

from __future__ import annotations

from typing import Final

GEN_AI_OPERATION: Final = "gen_ai.operation.name"
GEN_AI_SYSTEM: Final = "gen_ai.system"  # the older name, still what most backends read
GEN_AI_PROVIDER: Final = "gen_ai.provider.name"  # the current name of the same thing
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P: Final = "gen_ai.request.top_p"
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_TTFC: Final = "gen_ai.response.time_to_first_chunk"
GEN_AI_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
ERROR_TYPE: Final = "error.type"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
HTTP_METHOD: Final = "http.request.method"
HTTP_ROUTE: Final = "http.route"
HTTP_STATUS: Final = "http.response.status_code"

ROUTER_REQUEST_ID: Final = "router.request_id"
ROUTER_POLICY: Final = "router.policy"
ROUTER_RULE: Final = "router.rule"
ROUTER_TASK: Final = "router.task"
ROUTER_MODEL: Final = "router.model"  # the logical model that answered
ROUTER_DEPLOYMENT: Final = "router.deployment"
ROUTER_CHAIN: Final = "router.chain"  # the deployments the decision would try, in order
ROUTER_REASON: Final = "router.reason"
ROUTER_CACHE: Final = "router.cache"  # hit | miss | bypass | stored
ROUTER_COST: Final = "router.cost_usd"
ROUTER_ATTEMPTS: Final = "router.attempts"
ROUTER_RETRY_OF: Final = "router.retry_of"

CHAT: Final = "chat"

# router's provider names -> gen_ai.provider.name / gen_ai.system values
PROVIDERS: Final = {
    "openai": "openai",
    "azure": "azure.ai.openai",
    "azure_ai": "azure.ai.inference",
    "anthropic": "anthropic",
    "bedrock": "aws.bedrock",
    "vertex_ai": "gcp.vertex_ai",
    "gemini": "gcp.gemini",
    "mistral": "mistral_ai",
    "groq": "groq",
    "deepseek": "deepseek",
    "cohere": "cohere",
}


def provider_value(provider: str) -> str:
    """The semconv value for a deployment's provider; unknown ones pass through as written."""
    return PROVIDERS.get(provider, provider)
