"""Cheap request features, computed once per request before ``decide()``.

Two estimates live here, both deliberately rough and fast (well under a millisecond):

* the *task class* (``code``, ``reasoning``, ``general``): a keyword and syntax score over the
  last user turn and the system prompt; see ``docs/policies.md`` for the rules;
* the *prompt size*: characters / 4, rounded up, plus a small per-message overhead. For English
  prose with the OpenAI / Anthropic BPE tokenizers this lands within about +-25% of the real
  count; dense code, numbers and non-Latin scripts tokenize worse, so the estimate can be low by
  up to ~2x there. litellm's tokenizer is exact but costs milliseconds, so it is not used here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from router.policy.difficulty import DifficultyModel, Score
from router.wire import ChatRequest

TaskClass = str  # one of config.TASK_CLASSES: "code" | "reasoning" | "general"

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD_TOKENS = 4  # role and separators, per message
IMAGE_TOKENS = 765  # a high-detail 512px-tile image in OpenAI's accounting; a flat guess
_SCAN_CHARS = 6000  # classify on the tail of the last user turn: enough signal, bounded time


# Words (after punctuation becomes space) and substrings that hint at each class. Sets and
# ``in`` run at C speed; a big alternation regex was ~10x slower on long prompts.
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_CODE_WORDS = _words(
    "code function class method def import return exception traceback stacktrace compile "
    "compiler refactor regex bug debug segfault python javascript typescript rust golang java "
    "kotlin swift sql bash shell dockerfile kubernetes html css json yaml api endpoint variable "
    "null undefined async await lambda struct enum pointer array dict tuple query script "
    "schema database"
)
# Asking for code is a signal of its own: "write a function that reverses a list" names only one
# code word, yet nobody wants prose back. Each phrase found scores 1, like a keyword.
_CODE_ASKS = (
    "write a function",
    "write a program",
    "write a script",
    "write a class",
    "write code",
    "a function that",
    "a script that",
    "a program that",
    "implement a function",
    "unit test",
)
_CODE_MARKS = ("=>", ");", "{}", "();", "#include", "def ", "console.log", "</", "::", "!=", "==")
_REASONING_WORDS = _words(
    "prove proof derive calculate solve probability theorem lemma equation integral riddle "
    "puzzle deduce infer logically hypothesis estimate"
)
_REASONING_PHRASES = ("step by step", "step-by-step", "how many", "why does", "trade-off")
_ARITHMETIC_RE = re.compile(r"\d\s*[-+*/^=]\s*\d")
_CODE_TOOL_RE = re.compile(r"code|shell|bash|exec|file|patch|diff|python|terminal|repo")
_PUNCTUATION = str.maketrans({c: " " for c in "!\"$%&'()*,-./:;<=>?@[\\]^_`{|}~\n\t"})


@dataclass(frozen=True, slots=True)
class Features:
    """What ``decide()`` needs to know about a request, beyond the request itself."""

    task: TaskClass
    prompt_tokens: int  # estimate; see module docstring for the bound
    max_output_tokens: int | None  # the client's cap (max_tokens / max_completion_tokens)
    has_tools: bool
    has_images: bool
    wants_json: bool
    stream: bool
    # Parameters set that change the answer and that not every provider honours (names as in
    # ``config.catalog.CLAUDE_CANNOT_HONOUR``); see ``demands_of``.
    demands: frozenset[str] = frozenset()
    choices: int = 1  # ``n``: each choice is a whole answer, paid for in output tokens
    # P(the request needs the strong model), from the learned signal when one is configured;
    # and its mean over the signal's training prompts (what "an average request" means)
    difficulty: float | None = None
    difficulty_mean: float = 0.5
    # the same signal's predicted quality gain per extra cost of the strong model, relative to
    # the average request's (needs a format 2 file and both models' prices); scored together
    difficulty_per_cost: float | None = None

    @property
    def required_capabilities(self) -> frozenset[str]:
        caps = set()
        if self.has_tools:
            caps.add("tools")
        if self.has_images:
            caps.add("vision")
        if "json_object" in self.demands:
            caps.add("json_object")
        elif self.wants_json:
            caps.add("json_schema")
        return frozenset(caps)

    def context_needed(self, output_limit: int | None = None) -> int:
        """Tokens the context window must hold: the prompt plus the client's output cap, or
        the model's own ``output_limit`` where that is lower. A cap above what the model can
        write is a ceiling it never reaches (Claude Code asks every model for up to 128000),
        so it must not exclude a model whose window holds the prompt and all it can write."""
        cap = self.max_output_tokens or 0
        if output_limit is not None:
            cap = min(cap, output_limit)
        return self.prompt_tokens + cap


def classify(chat: ChatRequest, signal: DifficultyModel | None = None) -> Features:
    """The request's features; with ``signal``, also its difficulty (tens of microseconds)."""
    has_tools = bool(chat.tools or chat.functions)
    task = classify_task(chat)
    prompt_tokens = estimate_prompt_tokens(chat)
    score = None if signal is None else score_of(chat, task, prompt_tokens, signal)
    return Features(
        task=task,
        prompt_tokens=prompt_tokens,
        max_output_tokens=chat.max_completion_tokens or chat.max_tokens,
        has_tools=has_tools,
        has_images=chat.has_images,
        wants_json=chat.wants_json,
        stream=bool(chat.stream),
        demands=demands_of(chat),
        choices=chat.n or 1,
        difficulty=score.difficulty if score is not None else None,
        difficulty_mean=signal.mean_difficulty if signal is not None else 0.5,
        difficulty_per_cost=score.per_cost if score is not None else None,
    )


def score_of(
    chat: ChatRequest, task: TaskClass, prompt_tokens: int, signal: DifficultyModel
) -> Score:
    """The learned signal's reading of the last user turn, both values from one pass over its
    features (``router replay`` re-scores a logged prompt with it, under a candidate config's
    signal)."""
    users = [m for m in chat.messages if m.role == "user"]
    text = _text_of(users[-1].content) if users else ""
    return signal.score(text, task, prompt_tokens, len(users) > 1)


def difficulty_of(
    chat: ChatRequest, task: TaskClass, prompt_tokens: int, signal: DifficultyModel
) -> float:
    return score_of(chat, task, prompt_tokens, signal).difficulty


def demands_of(chat: ChatRequest) -> frozenset[str]:
    """What the request asks for beyond plain chat that a provider may be unable to honour;
    a parameter left at its no-op value (``n: 1``, ``presence_penalty: 0``) asks nothing."""
    found = set()
    if (chat.n or 1) > 1:
        found.add("n")
    for name in ("logprobs", "logit_bias", "store"):
        if getattr(chat, name):
            found.add(name)
    for name in (
        "top_logprobs", "seed", "audio", "prediction", "web_search_options", "verbosity",
        "functions", "function_call", "moderation",
    ):  # fmt: skip
        if getattr(chat, name) is not None:
            found.add(name)
    for name in ("presence_penalty", "frequency_penalty"):
        if getattr(chat, name) not in (None, 0):
            found.add(name)
    if chat.modalities not in (None, ["text"]):
        found.add("modalities")
    if chat.temperature is not None and chat.temperature > 1:
        found.add("temperature_above_1")
    if (chat.response_format or {}).get("type") == "json_object":
        found.add("json_object")
    return frozenset(found)


def estimate_prompt_tokens(chat: ChatRequest) -> int:
    chars = 0
    images = 0
    for message in chat.messages:
        content = message.content
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            for part in content:
                if part.get("type") in ("image_url", "input_image"):
                    images += 1
                else:
                    chars += len(str(part.get("text") or ""))
        if message.tool_calls:
            chars += sum(_json_size(c) for c in message.tool_calls)
    if chat.tools:
        chars += sum(_json_size(t) for t in chat.tools)
    tokens = -(-chars // CHARS_PER_TOKEN)  # ceil division
    return tokens + MESSAGE_OVERHEAD_TOKENS * len(chat.messages) + IMAGE_TOKENS * images


def classify_task(chat: ChatRequest) -> TaskClass:
    """``code`` if code signals dominate, ``reasoning`` if reasoning signals do, else general.

    Scores: a code fence counts 3; every distinct code keyword, syntax mark (``=>``, ``);``,
    ``def ``...) or request for code (``write a function``, ``a script that``...) counts 1 for
    code; every distinct reasoning keyword or phrase (``prove``,
    ``step by step``...) and any inline arithmetic count 1 for reasoning; tools whose names
    look like code tools add 2 to code; ``reasoning_effort`` adds 2 to reasoning. A class
    needs a score of 2; code wins ties.
    """
    text = _scan_text(chat)
    words = set(text.translate(_PUNCTUATION).split())
    code = 3 * ("```" in text) + len(words & _CODE_WORDS)
    code += sum(1 for mark in _CODE_MARKS if mark in text)
    code += sum(1 for ask in _CODE_ASKS if ask in text)
    reasoning = len(words & _REASONING_WORDS) + sum(1 for p in _REASONING_PHRASES if p in text)
    reasoning += 1 if _ARITHMETIC_RE.search(text) else 0
    if chat.tools:
        names = " ".join(_tool_name(t) for t in chat.tools).lower()
        if _CODE_TOOL_RE.search(names):
            code += 2
    if chat.reasoning_effort:
        reasoning += 2
    if code >= 2 and code >= reasoning:
        return "code"
    if reasoning >= 2:
        return "reasoning"
    return "general"


def _scan_text(chat: ChatRequest) -> str:
    """The system prompt's head and the last user turn's tail, lower-cased."""
    system = ""
    user = ""
    for message in chat.messages:
        if message.role in ("system", "developer") and not system:
            system = _text_of(message.content)[:1000]
        elif message.role == "user":
            user = _text_of(message.content)
    return (system + "\n" + user[-_SCAN_CHARS:]).lower()


def _text_of(content: str | list[dict[str, Any]] | None) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text") or "") for p in content if p.get("type") == "text")
    return ""


def _tool_name(tool: dict[str, Any]) -> str:
    fn = tool.get("function")
    return str(fn.get("name") or "") if isinstance(fn, dict) else str(tool.get("name") or "")


def _json_size(value: Any) -> int:
    # str() of a dict is within a few percent of its JSON length and avoids a serialiser call.
    return len(str(value))
