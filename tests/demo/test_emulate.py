"""router demo's config rewrite: only where deployments live changes, so routing does not."""

from __future__ import annotations

import io
from pathlib import Path

import yaml

from router.config.check import check_main, load_checked
from router.demo.emulate import emulate
from router.demo.fixture import DEMO_KEY_ENV, Endpoints

REPO = Path(__file__).resolve().parents[2]
ENDPOINTS = Endpoints(
    openai="http://127.0.0.1:1/v1",
    azure="http://127.0.0.1:2",
    foundry="http://127.0.0.1:3/models",
    anthropic="http://127.0.0.1:4",
)


def test_the_shipped_policies_keep_their_names_prices_and_tests(tmp_path: Path) -> None:
    rewrites = emulate(REPO / "policies", tmp_path, ENDPOINTS)
    shipped = load_checked(REPO / "policies")
    demo = load_checked(tmp_path)
    assert sorted(demo.catalog.models) == sorted(shipped.catalog.models)
    for name, model in shipped.catalog.models.items():
        mine = demo.catalog.models[name]
        assert [d.name for d in mine.deployments] == [d.name for d in model.deployments]
        for theirs, ours in zip(model.deployments, mine.deployments, strict=True):
            assert ours.price == theirs.price  # MAI-Code-1-Flash is priced as shipped
            assert ours.provider == theirs.provider
    assert {r.emulator for r in rewrites} == {"openai", "azure", "foundry", "anthropic"}
    by_name = {r.deployment: r for r in rewrites}
    assert by_name["mai-code-1-flash@azure_ai"].url == ENDPOINTS.foundry
    assert by_name["mai-code-1-flash@compat"].url == ENDPOINTS.openai
    assert by_name["gpt-4o@azure"].url == ENDPOINTS.azure
    assert by_name["gpt-4o@openai"].was == "https://api.openai.com/v1"
    # The shipped policy tests (routing.yaml's expectations) pass on the rewritten copy.
    out = io.StringIO()
    assert check_main(tmp_path, out) == 0, out.getvalue()


def test_every_deployment_points_at_loopback_with_the_emulator_key(tmp_path: Path) -> None:
    emulate(REPO / "policies", tmp_path, ENDPOINTS)
    for file in tmp_path.glob("*.yaml"):
        data = yaml.safe_load(file.read_text()) or {}
        for model in (data.get("models") or {}).values():
            for deployment in model["deployments"]:
                assert deployment["base_url"].startswith("http://127.0.0.1:")
                assert deployment["api_key_env"] == DEMO_KEY_ENV


def test_a_provider_without_an_emulator_is_served_by_the_openai_one(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "models.yaml").write_text(
        "models:\n"
        "  mistral:\n"
        "    pricing: {input_per_mtok: 1, output_per_mtok: 2}\n"
        "    deployments:\n"
        "      - {provider: mistral, model: mistral-large-latest, api_key_env: MISTRAL_KEY}\n"
    )
    [rewrite] = emulate(source, tmp_path / "out", ENDPOINTS)
    assert (rewrite.deployment, rewrite.provider, rewrite.emulator) == (
        "mistral@mistral",
        "mistral",
        "openai",
    )
    [deployment] = load_checked(tmp_path / "out").catalog.models["mistral"].deployments
    assert deployment.name == "mistral@mistral"  # the name a policy or test may use
    assert deployment.openai_compatible
