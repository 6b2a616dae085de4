import openai

from support.stack import RunningRouter


def test_openai_sdk_non_streaming(router: RunningRouter) -> None:
    client = openai.OpenAI(base_url=router.v1, api_key="unused")
    reply = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hello there"}]
    )
    assert reply.model == "gpt-4o"
    assert reply.choices[0].message.content
    assert reply.usage is not None
    assert reply.usage.prompt_tokens > 0
