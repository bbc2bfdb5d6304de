"""Typed use of nemo_relay.pii_redaction (checked with mypy --strict, never run)."""

from __future__ import annotations

from typing import assert_type

from nemo_relay import plugin
from nemo_relay.pii_redaction import (
    DETECTORS,
    PII_REDACTION_PLUGIN_KIND,
    BuiltinConfig,
    ComponentSpec,
    ConfigDiagnostic,
    ConfigPolicy,
    ConfigReport,
    LocalModelConfig,
    PiiRedactionConfig,
    validate_config,
)


async def configure() -> None:
    rules = [BuiltinConfig(action="redact", detector=d) for d in DETECTORS]
    rules.append(BuiltinConfig(action="mask", target_paths=["/card"], unmasked_suffix=4, mask_char="#"))
    config = PiiRedactionConfig(builtin=rules, input=False, output=False, priority=-10,
                                policy=ConfigPolicy(unknown_field="error"))
    report = validate_config(config)
    assert_type(report, ConfigReport)
    for diagnostic in report["diagnostics"]:
        assert_type(diagnostic, ConfigDiagnostic)
        print(diagnostic.get("field"), diagnostic["message"])
    spec = ComponentSpec(config)
    assert spec.to_dict()["kind"] == PII_REDACTION_PLUGIN_KIND
    await plugin.initialize(plugin.PluginConfig(components=[spec]))
    single = PiiRedactionConfig(builtin=BuiltinConfig(action="hash", detector="email"))
    local = PiiRedactionConfig(mode="local_model", local=LocalModelConfig(backend="onnx"))
    print(validate_config(single), validate_config(local.to_dict()))
