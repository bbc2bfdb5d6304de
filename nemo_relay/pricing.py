"""Model pricing: catalogs of per-token rates, and the ``pricing`` plugin
component that turns token usage on LLM end events into cost estimates.

Configure it like any plugin component::

    from nemo_relay import plugin
    from nemo_relay.pricing import (ComponentSpec, InlineSource, ModelPricing,
                                    PricingCatalog, PricingConfig, TokenPricingRates)

    entry = ModelPricing(provider="openai", model_id="gpt-4o-mini",
                         pricing_as_of="2026-01-01", pricing_source="https://openai.com/api/pricing",
                         rates=TokenPricingRates(0.15, 0.60, cache_read_per_million=0.075))
    await plugin.initialize(plugin.PluginConfig(components=[
        ComponentSpec(PricingConfig(sources=[InlineSource(PricingCatalog(entries=[entry]))]))]))

An LLM call with a ``response_codec`` whose response names a priced model
then carries ``annotated_response.usage["cost"]`` on its end event
(``total``, ``currency``, ``input``, ``output``, ``cache_read``,
``cache_write``, ``source``, ``pricing_*``).  Models no catalog lists get no
estimate.  Catalogs are checked and costed in C (csrc/codecs/nr_pricing.c).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict, cast

from . import plugin as _plugin
from ._config_json import plain as _plain

__all__ = [
    "PRICING_PLUGIN_KIND",
    "ComponentSpec",
    "ConfigDiagnostic",
    "ConfigReport",
    "FileSource",
    "InlineSource",
    "ModelPricing",
    "PricingCatalog",
    "PricingConfig",
    "PromptCachePricing",
    "PromptTokenThresholdRateSchedule",
    "TokenPricingRates",
    "TokenRateTier",
    "validate_config",
]

#: The plugin kind of the pricing component: built in, registered by the
#: first configuration that names it.
PRICING_PLUGIN_KIND = "pricing"

JsonObject = dict[str, Any]


class _DiagnosticBase(TypedDict):
    level: Literal["warning", "error"]
    code: str
    message: str


class ConfigDiagnostic(_DiagnosticBase, total=False):
    """One finding of ``validate_config``."""

    component: str
    field: str


class ConfigReport(TypedDict):
    """What ``validate_config`` returns."""

    diagnostics: list[ConfigDiagnostic]


def _object(**items: object) -> JsonObject:
    return cast(JsonObject, _plain(items))


@dataclass(slots=True)
class TokenPricingRates:
    """Prices per one million tokens."""

    input_per_million: float
    output_per_million: float
    cache_read_per_million: float | None = None
    cache_write_per_million: float | None = None

    def to_dict(self) -> JsonObject:
        return _object(input_per_million=self.input_per_million, output_per_million=self.output_per_million,
                       cache_read_per_million=self.cache_read_per_million,
                       cache_write_per_million=self.cache_write_per_million)


@dataclass(slots=True)
class PromptCachePricing:
    """Whether cached prompt tokens are part of ``prompt_tokens`` (OpenAI:
    ``included_in_prompt_tokens``, billed at the cache-read rate instead) or
    counted apart (Anthropic: ``separate``)."""

    read_accounting: Literal["included_in_prompt_tokens", "separate"] = "included_in_prompt_tokens"

    def to_dict(self) -> JsonObject:
        return {"read_accounting": self.read_accounting}


@dataclass(slots=True)
class TokenRateTier:
    """Rates that apply when the request's prompt tokens are within bounds."""

    rates: TokenPricingRates | JsonObject
    min_prompt_tokens: int | None = None
    max_prompt_tokens: int | None = None

    def to_dict(self) -> JsonObject:
        return _object(min_prompt_tokens=self.min_prompt_tokens, max_prompt_tokens=self.max_prompt_tokens,
                       rates=self.rates)


@dataclass(slots=True)
class PromptTokenThresholdRateSchedule:
    """Tiered rates chosen by the whole request's prompt tokens (first tier
    that matches wins)."""

    tiers: list[TokenRateTier | JsonObject] = field(default_factory=list)
    applies_to: Literal["full_request"] = "full_request"

    def to_dict(self) -> JsonObject:
        return _object(type="prompt_token_threshold", applies_to=self.applies_to, tiers=self.tiers)


@dataclass(slots=True)
class ModelPricing:
    """One catalog entry: a model (its id and aliases) and its prices."""

    provider: str
    model_id: str
    pricing_as_of: str
    pricing_source: str
    aliases: list[str] = field(default_factory=list)
    currency: str = "USD"
    unit: Literal["per_token", "per_request", "per_second", "gpu_hour"] = "per_token"
    rates: TokenPricingRates | JsonObject | None = None
    rate_schedule: PromptTokenThresholdRateSchedule | JsonObject | None = None
    prompt_cache: PromptCachePricing | JsonObject = field(default_factory=PromptCachePricing)

    def to_dict(self) -> JsonObject:
        return _object(provider=self.provider, model_id=self.model_id, aliases=self.aliases,
                       currency=self.currency, unit=self.unit, rates=self.rates,
                       rate_schedule=self.rate_schedule, prompt_cache=self.prompt_cache,
                       pricing_as_of=self.pricing_as_of, pricing_source=self.pricing_source)


@dataclass(slots=True)
class PricingCatalog:
    """A catalog (format version 1)."""

    entries: list[ModelPricing | JsonObject] = field(default_factory=list)
    version: int = 1

    def to_dict(self) -> JsonObject:
        return _object(version=self.version, entries=self.entries)


@dataclass(slots=True)
class InlineSource:
    """A catalog given in the configuration itself."""

    catalog: PricingCatalog | JsonObject

    def to_dict(self) -> JsonObject:
        return _object(type="inline", catalog=self.catalog)


@dataclass(slots=True)
class FileSource:
    """A catalog in a JSON file, read when the component is initialized."""

    path: str

    def to_dict(self) -> JsonObject:
        return {"type": "file", "path": self.path}


@dataclass(slots=True)
class PricingConfig:
    """The pricing component's config: catalogs, searched in order."""

    sources: list[InlineSource | FileSource | JsonObject] = field(default_factory=list)

    def to_dict(self) -> JsonObject:
        return _object(sources=self.sources)


@dataclass(slots=True)
class ComponentSpec:
    """The ``pricing`` component, for ``plugin.PluginConfig(components=[...])``."""

    config: PricingConfig | JsonObject
    enabled: bool = True

    def to_dict(self) -> JsonObject:
        return {"kind": PRICING_PLUGIN_KIND, "enabled": self.enabled, "config": _plain(self.config)}


def validate_config(config: PricingConfig | JsonObject) -> ConfigReport:
    """Check a pricing config without activating it (file sources are read)."""
    report = _plugin.validate(_plugin.PluginConfig(components=[ComponentSpec(config)]))
    return cast(ConfigReport, report)
