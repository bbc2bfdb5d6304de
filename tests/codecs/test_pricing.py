"""Pricing: the config helpers, the `pricing` plugin component and cost
estimates on LLM end events (catalogs checked and costed in C)."""

from __future__ import annotations

import json

import codec_payloads as payloads
import pytest

from nemo_relay import LLMRequest, llm, plugin
from nemo_relay.codecs import AnthropicMessagesCodec, OpenAIChatCodec
from nemo_relay.pricing import (
    PRICING_PLUGIN_KIND,
    ComponentSpec,
    FileSource,
    InlineSource,
    ModelPricing,
    PricingCatalog,
    PricingConfig,
    PromptCachePricing,
    PromptTokenThresholdRateSchedule,
    TokenPricingRates,
    TokenRateTier,
    validate_config,
)

SOURCE = "https://example.com/pricing"
MINI = ModelPricing(provider="openai", model_id="gpt-4o-mini", aliases=["gpt-4o-mini-2024-07-18"],
                    pricing_as_of="2026-06-15", pricing_source=SOURCE,
                    rates=TokenPricingRates(0.15, 0.60, cache_read_per_million=0.075))
SONNET = ModelPricing(provider="anthropic", model_id="claude-sonnet-4-5",
                      aliases=["claude-sonnet-4-5-20250929"], pricing_as_of="2026-06-15", pricing_source=SOURCE,
                      rates=TokenPricingRates(3.0, 15.0, cache_read_per_million=0.3, cache_write_per_million=3.75),
                      prompt_cache=PromptCachePricing("separate"))


def config(*entries: ModelPricing) -> plugin.PluginConfig:
    return plugin.PluginConfig(components=[ComponentSpec(PricingConfig(
        sources=[InlineSource(PricingCatalog(entries=list(entries)))]))])


@pytest.fixture(autouse=True)
def pricing_kind_removed():
    """The built-in kind is registered by the first configuration naming it;
    other tests expect no kinds, so each test here removes it again."""
    try:
        yield
    finally:
        plugin.clear()
        plugin.deregister(PRICING_PLUGIN_KIND)


@pytest.fixture
async def priced():
    report = await plugin.initialize(config(MINI, SONNET))
    assert report["diagnostics"] == []
    try:
        yield
    finally:
        plugin.clear()


def test_config_helpers_serialize_to_the_catalog_shape(tmp_path):
    assert PromptCachePricing().to_dict() == {"read_accounting": "included_in_prompt_tokens"}
    assert TokenPricingRates(1.0, 2.0).to_dict() == {"input_per_million": 1.0, "output_per_million": 2.0}
    schedule = PromptTokenThresholdRateSchedule(tiers=[TokenRateTier(TokenPricingRates(1.0, 2.0), min_prompt_tokens=128)])
    assert schedule.to_dict() == {"type": "prompt_token_threshold", "applies_to": "full_request", "tiers": [
        {"min_prompt_tokens": 128, "rates": {"input_per_million": 1.0, "output_per_million": 2.0}}]}
    wrapped = ComponentSpec(PricingConfig(sources=[InlineSource(PricingCatalog(entries=[MINI])),
                                                   FileSource(str(tmp_path / "p.json"))])).to_dict()
    assert wrapped["kind"] == PRICING_PLUGIN_KIND == "pricing" and wrapped["enabled"] is True
    assert wrapped["config"]["sources"][1] == {"type": "file", "path": str(tmp_path / "p.json")}
    entry = wrapped["config"]["sources"][0]["catalog"]["entries"][0]
    assert entry["prompt_cache"] == {"read_accounting": "included_in_prompt_tokens"} and entry["unit"] == "per_token"
    assert validate_config(PricingConfig())["diagnostics"] == []  # naming the kind registers it
    assert PRICING_PLUGIN_KIND in plugin.list_kinds()


@pytest.mark.parametrize("entry,message", [
    (dict(MINI.to_dict(), rates={"input_per_million": -1.0, "output_per_million": 2.0}),
     "pricing entry 0 has invalid rates.input_per_million"),
    (dict(MINI.to_dict(), model_id=" "), "pricing entry 0 has empty model_id"),
    ({k: v for k, v in MINI.to_dict().items() if k != "rates"}, "pricing entry 0 has empty rates or rate_schedule"),
    (dict(MINI.to_dict(), rate_schedule={"type": "prompt_token_threshold", "tiers": []}, rates=None),
     "pricing entry 0 has empty rate_schedule.tiers"),
    (dict(MINI.to_dict(), colour="blue"), "pricing entry 0 has an unknown field 'colour'"),
])
def test_invalid_catalogs_are_reported(entry, message):
    report = validate_config(PricingConfig(sources=[InlineSource({"version": 1, "entries": [entry]})]))
    (diag,) = report["diagnostics"]
    assert diag["code"] == "pricing.invalid_config" and diag["level"] == "error"
    assert message in diag["message"] and diag["message"].startswith("invalid pricing config: ")


def test_catalog_level_errors(tmp_path):
    def message(cfg):
        return " ".join(d["message"] for d in validate_config(cfg)["diagnostics"])

    assert "unsupported pricing catalog version 2" in message(
        PricingConfig(sources=[InlineSource(PricingCatalog(entries=[MINI], version=2))]))
    dup = ModelPricing(provider="OpenAI", model_id="GPT-4o-mini", pricing_as_of="x", pricing_source="y",
                       rates=TokenPricingRates(1, 1))
    assert "duplicate pricing model alias 'openai/gpt-4o-mini'" in message(config(MINI, dup).components[0].config)
    assert "could not read pricing catalog file" in message(PricingConfig(sources=[FileSource(str(tmp_path / "no"))]))
    assert "unknown field 'extra'" in message({"sources": [], "extra": 1})
    assert validate_config(config(MINI, SONNET).components[0].config)["diagnostics"] == []


async def test_cost_on_llm_end_events(priced, events):
    codec = OpenAIChatCodec()
    llm.execute_sync("openai", LLMRequest({}, payloads.chat_request()), lambda r: payloads.chat_response(),
                     response_codec=codec)
    cost = events.one("openai", "end").annotated_response.usage["cost"]
    # 120 prompt tokens of which 100 cached: 20 at the input rate, 100 at the cache-read rate
    assert cost == {"total": pytest.approx(2.85e-5, abs=1e-12), "currency": "USD", "input": pytest.approx(3e-6),
                    "output": pytest.approx(1.8e-5), "cache_read": pytest.approx(7.5e-6), "source": "model_pricing",
                    "pricing_provider": "openai", "pricing_model": "gpt-4o-mini", "pricing_as_of": "2026-06-15",
                    "pricing_source": SOURCE}
    assert events.one("openai", "end").to_dict()["category_profile"]["annotated_response"]["usage"]["cost"]["total"] \
        == pytest.approx(2.85e-5)
    # the codec's own decode_response prices too, while the catalog is active
    assert codec.decode_response(payloads.chat_response()).usage["cost"]["source"] == "model_pricing"


async def test_anthropic_separate_cache_accounting(priced, events):
    llm.execute_sync("claude", LLMRequest({}, payloads.anthropic_request()), lambda r: payloads.anthropic_response(),
                     response_codec=AnthropicMessagesCodec())
    cost = events.one("claude", "end").annotated_response.usage["cost"]
    assert cost["input"] == pytest.approx(9e-4) and cost["output"] == pytest.approx(3.75e-4)
    assert cost["cache_read"] == pytest.approx(3e-4) and cost["cache_write"] == pytest.approx(7.5e-4)
    assert cost["total"] == pytest.approx(0.002325)


async def test_unknown_models_get_no_estimate_and_clear_removes_pricing(events):
    codec = OpenAIChatCodec()
    unknown = dict(payloads.chat_response(), model="some-other-model")
    await plugin.initialize(config(MINI))
    try:
        assert "cost" not in codec.decode_response(unknown).usage
        assert "cost" in codec.decode_response(dict(unknown, model="OpenAI/GPT-4o-mini")).usage
    finally:
        plugin.clear()
    assert "cost" not in codec.decode_response(payloads.chat_response()).usage


async def test_tiers_files_and_provider_reported_costs(tmp_path):
    tiered = ModelPricing(provider="google", model_id="gemini-pro", pricing_as_of="d", pricing_source="s",
                          rate_schedule=PromptTokenThresholdRateSchedule(tiers=[
                              TokenRateTier(TokenPricingRates(1.0, 2.0), max_prompt_tokens=1000),
                              TokenRateTier(TokenPricingRates(2.0, 4.0), min_prompt_tokens=1001)]))
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(PricingCatalog(entries=[tiered]).to_dict()))
    await plugin.initialize(plugin.PluginConfig(components=[ComponentSpec(PricingConfig(sources=[FileSource(str(path))]))]))
    try:
        codec = OpenAIChatCodec()
        small = {"model": "gemini-pro", "choices": [], "usage": {"prompt_tokens": 1000, "completion_tokens": 0}}
        big = {"model": "gemini-pro", "choices": [], "usage": {"prompt_tokens": 2000, "completion_tokens": 0}}
        assert codec.decode_response(small).usage["cost"]["total"] == pytest.approx(0.001)
        assert codec.decode_response(big).usage["cost"]["total"] == pytest.approx(0.004)
        reported = {"model": "gemini-pro", "choices": [], "usage": {"prompt_tokens": 5, "cost_usd": 0.5}}
        assert codec.decode_response(reported).usage["cost"] == {"total": 0.5, "currency": "USD",
                                                                  "source": "provider_reported"}
    finally:
        plugin.clear()


async def test_a_replacing_configuration_keeps_its_own_catalogs():
    codec = OpenAIChatCodec()
    await plugin.initialize(config(MINI))
    try:
        await plugin.initialize(config(SONNET))  # the first one rolls back after this registers
        assert "cost" in codec.decode_response(dict(payloads.chat_response(), model="claude-sonnet-4-5")).usage
        assert "cost" not in codec.decode_response(payloads.chat_response()).usage
    finally:
        plugin.clear()
    assert "cost" not in codec.decode_response(dict(payloads.chat_response(), model="claude-sonnet-4-5")).usage


async def test_a_streamed_chat_call_is_aggregated_and_priced(priced, events):
    chunks = [dict(c, model="gpt-4o-mini") for c in payloads.chat_stream()]

    async def provider(request):
        for c in chunks:
            yield c

    codec = OpenAIChatCodec()
    stream = await llm.stream_execute("openai-stream", LLMRequest({}, dict(payloads.chat_request(), stream=True)),
                                      provider, lambda c: None, lambda: None, codec=codec, response_codec=codec)
    assert len([c async for c in stream]) == len(chunks)
    ann = events.one("openai-stream", "end").annotated_response
    assert ann.response_text() == "Checking the weather." and ann.finish_reason == "tool_use"
    assert ann.tool_calls == [{"id": "call_s", "name": "get_weather", "arguments": {"city": "Nice"}}]
    # 50 prompt tokens at 0.15 and 12 completion tokens at 0.60 per million
    assert ann.usage["cost"]["total"] == pytest.approx(50 * 0.15e-6 + 12 * 0.60e-6)
