"""The built-in ``pii_redaction`` component (csrc/redact on PCRE2): config
shape and diagnostics, every detector (a hit and a look-alike), every action,
target paths, the surfaces it covers, and that redaction only changes what is
recorded."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from nemo_relay import LLMRequest, errors, guardrails, llm, plugin, subscribers, tools
from nemo_relay.pii_redaction import (
    DETECTORS,
    PII_REDACTION_PLUGIN_KIND,
    BuiltinConfig,
    ComponentSpec,
    ConfigPolicy,
    LocalModelConfig,
    PiiRedactionConfig,
    validate_config,
)

AZURE_KEY = base64.b64encode(bytes(range(64))).decode()  # 86 characters + "=="


def config_of(*rules: BuiltinConfig | dict, **fields) -> PiiRedactionConfig:
    builtin = rules[0] if len(rules) == 1 else list(rules)
    return PiiRedactionConfig(builtin=builtin, **fields)  # type: ignore[arg-type]


async def activate(config: PiiRedactionConfig | dict) -> dict:
    return await plugin.initialize(plugin.PluginConfig(components=[ComponentSpec(config)]))


def recorded_tool(events, name: str, args, result=None, **rule) -> tuple[object, object]:
    """Runs one tool call under a one-rule configuration; (start data, end data)."""
    async def run():
        async with plugin.plugin(plugin.PluginConfig(components=[ComponentSpec(config_of(BuiltinConfig(**rule)))])):
            tools.execute_sync(name, args, lambda a: result if result is not None else a)
    asyncio.run(run())
    return events.one(name, "start").data, events.one(name, "end").data


# ---- the config helpers -------------------------------------------------------------


def test_defaults_and_component_wrapper():
    assert BuiltinConfig().to_dict() == {"action": "remove", "target_paths": []}
    assert ConfigPolicy().to_dict() == {"unknown_component": "warn", "unknown_field": "warn",
                                        "unsupported_value": "error"}
    assert LocalModelConfig().to_dict() == {}
    wrapped = ComponentSpec(PiiRedactionConfig()).to_dict()
    assert wrapped["kind"] == PII_REDACTION_PLUGIN_KIND == "pii_redaction" and wrapped["enabled"] is True
    assert wrapped["config"] == {"version": 1, "mode": "builtin", "input": True, "output": True,
                                 "tool_input": True, "tool_output": True, "priority": 100,
                                 "policy": ConfigPolicy().to_dict()}
    rules = ComponentSpec(config_of(BuiltinConfig(detector="email"), BuiltinConfig(action="hash"))).to_dict()
    assert rules["config"]["builtin"] == [{"action": "remove", "target_paths": [], "detector": "email"},
                                          {"action": "hash", "target_paths": []}]


def test_the_kind_is_built_in():
    assert PII_REDACTION_PLUGIN_KIND in plugin.list_kinds()


def test_a_valid_config_has_no_diagnostics():
    for detector in DETECTORS:
        assert validate_config(config_of(BuiltinConfig(action="mask", detector=detector))) == {"diagnostics": []}
    assert plugin.validate(plugin.PluginConfig(components=[ComponentSpec(config_of(
        BuiltinConfig(action="regex_replace", pattern=r"(\w+)@(\w+)", replacement="$2", target_paths=["/a"]),
        input=False, output=False))])) == {"diagnostics": []}


def fields_of(report) -> dict[str, tuple[str, str]]:
    return {d.get("field", ""): (d["level"], d["code"]) for d in report["diagnostics"]}


def test_validation_names_the_rule_and_field():
    report = validate_config({"mode": "builtin", "surprise": 1, "builtin": [
        {"action": "redact", "detector": "email"},
        {"action": "redact", "pattern": "(unclosed"},
        {"action": "mask", "detector": "not_a_detector", "mask_char": ""},
        {"action": "explode", "extra": True},
        {"action": "regex_replace"},
        {"pattern": "a", "detector": "email"},
        {"target_paths": ["no-slash"], "unmasked_prefix": -1},
    ]})
    got = fields_of(report)
    assert got == {
        "surprise": ("warning", "pii_redaction.unknown_field"),
        "builtin[1].pattern": ("error", "pii_redaction.unsupported_value"),
        "builtin[2].detector": ("error", "pii_redaction.unsupported_value"),
        "builtin[2].mask_char": ("error", "pii_redaction.unsupported_value"),
        "builtin[3].extra": ("warning", "pii_redaction.unknown_field"),
        "builtin[3].action": ("error", "pii_redaction.unsupported_value"),
        "builtin[4].pattern": ("error", "pii_redaction.unsupported_value"),
        "builtin[5].detector": ("error", "pii_redaction.unsupported_value"),
        "builtin[6].target_paths": ("error", "pii_redaction.invalid_plugin_config"),
        "builtin[6].unmasked_prefix": ("error", "pii_redaction.invalid_plugin_config"),
    }
    assert all(d["component"] == "pii_redaction" for d in report["diagnostics"])
    bad_pattern = next(d for d in report["diagnostics"] if d.get("field") == "builtin[1].pattern")
    assert bad_pattern["message"].startswith("builtin[1].pattern: invalid regular expression '(unclosed'")
    assert "missing closing parenthesis" in bad_pattern["message"]
    detector = next(d for d in report["diagnostics"] if d.get("field") == "builtin[2].detector")
    assert "'not_a_detector'" in detector["message"] and "azure_storage_account_key" in detector["message"]


def test_one_rule_object_reports_plain_field_names():
    report = validate_config(PiiRedactionConfig(input=False, output=False,
                                                builtin=BuiltinConfig(action="mask", detector="nope")))
    assert fields_of(report) == {"builtin.detector": ("error", "pii_redaction.unsupported_value")}


def test_config_level_diagnostics():
    assert fields_of(validate_config({"version": 2, "builtin": {}})) == {
        "version": ("error", "pii_redaction.unsupported_config_version")}
    assert fields_of(validate_config({})) == {"builtin": ("error", "pii_redaction.unsupported_value")}
    assert fields_of(validate_config({"builtin": {}, "input": False, "output": False, "tool_input": False,
                                      "tool_output": False})) == {"": ("error", "pii_redaction.unsupported_value")}
    assert fields_of(validate_config({"builtin": {}, "codec": "gemini"})) == {
        "codec": ("error", "pii_redaction.unsupported_value")}
    assert fields_of(validate_config({"builtin": {}, "local": {"backend": "x"}})) == {
        "local": ("error", "pii_redaction.unsupported_value")}
    assert fields_of(validate_config({"builtin": {}, "priority": "high", "input": "yes", "mode": 3})) == {
        "priority": ("error", "pii_redaction.invalid_plugin_config"),
        "input": ("error", "pii_redaction.invalid_plugin_config"),
        "mode": ("error", "pii_redaction.invalid_plugin_config")}
    assert fields_of(validate_config({"builtin": {}, "policy": {"unknown_field": "loud", "other": 1}})) == {
        "policy.unknown_field": ("error", "pii_redaction.invalid_plugin_config"),
        "policy.other": ("warning", "pii_redaction.unknown_field")}


def test_policy_sets_the_level_of_unknown_fields_and_unsupported_values():
    quiet = {"unknown_field": "ignore", "unsupported_value": "warn"}
    report = validate_config({"builtin": {"zzz": 1}, "version": 7, "codec": "x", "policy": quiet})
    assert fields_of(report) == {"version": ("warning", "pii_redaction.unsupported_config_version"),
                                 "codec": ("warning", "pii_redaction.unsupported_value")}
    strict = {"unknown_field": "error"}
    assert fields_of(validate_config({"builtin": {"zzz": 1}, "policy": strict})) == {
        "builtin.zzz": ("error", "pii_redaction.unknown_field")}
    # a rule that cannot work is an error whatever the policy says
    ignore_all = {"unknown_field": "ignore", "unsupported_value": "ignore"}
    assert fields_of(validate_config({"builtin": {"action": "redact", "pattern": "("}, "policy": ignore_all})) == {
        "builtin.pattern": ("error", "pii_redaction.unsupported_value")}


async def test_local_model_mode_fails_and_says_why():
    config = PiiRedactionConfig(mode="local_model", local=LocalModelConfig(backend="onnx"))
    report = validate_config(config)
    assert fields_of(report) == {"mode": ("error", "pii_redaction.local_model_unavailable")}
    assert "not supported by this runtime" in report["diagnostics"][0]["message"]
    quiet = PiiRedactionConfig(mode="local_model", policy=ConfigPolicy(unsupported_value="ignore"))
    assert fields_of(validate_config(quiet))["mode"][0] == "error"  # never silently skipped
    before = subscribers_count()
    with pytest.raises(errors.InvalidConfig, match="local_model"):
        await activate(config)
    assert plugin.report() is None and subscribers_count() == before


def subscribers_count() -> int:
    from nemo_relay import _native
    return _native._registration_count()


async def test_a_failed_change_keeps_the_previous_configuration(events):
    good = config_of(BuiltinConfig(action="redact", detector="email"))
    bad = config_of(BuiltinConfig(action="redact", pattern="[z-a]"))
    try:
        await activate(good)
        with pytest.raises(errors.InvalidConfig, match=r"builtin.pattern: invalid regular expression '\[z-a\]'"):
            await activate(bad)
        tools.execute_sync("t", {"to": "bob@example.com"}, lambda a: None)
        assert events.one("t", "start").data == {"to": "[REDACTED]"}
    finally:
        plugin.clear()


async def test_registers_one_sanitizer_per_surface_at_the_priority():
    from nemo_relay import _native
    try:
        await activate(config_of(BuiltinConfig(detector="email"), priority=-5, output=False))
        mine = sorted((r["kind"], r["name"], r["priority"], r["native"]) for r in _native._registrations()
                      if "pii_redaction" in r["name"])
        prefix = "__nemo_relay_plugin__pii_redaction__"
        assert [(m[1], m[2], m[3]) for m in mine] == sorted(
            [(prefix + n, -5, True) for n in ("input", "tool_input", "tool_output")])
    finally:
        plugin.clear()
    assert not [r for r in _native._registrations() if "pii_redaction" in r["name"]]


# ---- detectors: a hit, its default mask, and a look-alike ------------------------------

# detector -> (secret, its default mask, look-alikes that must stay)
CASES = {
    "email": ("alice.smith@example.com", "a**********@example.com", ["alice@localhost", "@handle.example"]),
    "phone": ("+1 (555) 123-4567", "+* (***) ***-4567",
              ["123e4567-e89b-12d3-a456-426614174000", "2024-01-15", "10.10.10.10"]),
    "api_key": ("sk-proj0123456789abcd", "sk-**************abcd", ["desk-lamp-00001234", "sk-short"]),
    "ip_address": ("10.20.30.40", "***.***.***.40", ["4.19.0.1024", "1.2.3.4.5", "version 300.1.1.1"]),
    "ipv6": ("2001:db8:85a3::8a2e:370:7334", "****:****:****::****:****:7334",
             ["std::vector<int>", "12:30:45", "a::b"]),
    "url": ("https://example.com/reset?token=abc", "https://example.com/*",
            ["https:// is a scheme", "see example.com/reset"]),
    "uuid": ("123e4567-e89b-12d3-a456-426614174000", "*" * 32 + "4000",
             ["123e4567-e89b-12d3-a456-4266141740001", "123e4567-e89b-02d3-a456-426614174000"]),
    "bearer_token": ("Bearer abcdef0123456789", "Bearer ************6789",
                     ["the bearer of bad news", "Bearer short"]),
    "jwt": ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.SflKxwRJSMeKKF2QT4fwpM",
            "eyJhbGciOiJIUzI1NiJ9." + "*" * 20 + "." + "*" * 16 + "T4fwpM",
            ["eyJhbGciOiJIUzI1NiJ9.onlytwo", "eyJx.config.json"]),
    "credit_card": ("4111 1111 1111 1111", "**** **** **** 1111",
                    ["1234 5678 9012 3456", "4111111111111112", "order 4111-1111"]),
    "aws_access_key_id": ("AKIAIOSFODNN7EXAMPLE", "AKIA************MPLE",
                          ["AKIAIOSFODNN7EXAMPL", "akiaiosfodnn7example", "XAKIAIOSFODNN7EXAMPLE"]),
    "aws_secret_access_key": ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "*" * 36 + "EKEY",
                              ["da39a3ee5e6b4b0d3255bfef95601890afd80709",
                               "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEYS"]),
    "gcp_api_key": ("AIzaSyA1234567890abcdefghijklmnopqrstuv", "AIzaSy" + "*" * 29 + "stuv",
                    ["AIzaSyA1234567890abcdefghijklmnopqrstu", "xAIzaSyA1234567890abcdefghijklmnopqrstuv"]),
    "azure_storage_account_key": (AZURE_KEY, "*" * 84 + AZURE_KEY[-4:], [AZURE_KEY[:44] + "=", AZURE_KEY[:-2]]),
}


def test_every_detector_has_cases():
    assert set(CASES) == set(DETECTORS) and len(DETECTORS) == 14


@pytest.mark.parametrize("detector", DETECTORS)
def test_detector_redacts_its_secret_inside_text(events, detector):
    secret = CASES[detector][0]
    text = f"before {secret} after"
    start, end = recorded_tool(events, "t", {"text": text, "n": 1}, {"echo": [text]},
                               action="redact", detector=detector)
    assert start == {"text": "before [REDACTED] after", "n": 1}
    assert end == {"echo": ["before [REDACTED] after"]}


@pytest.mark.parametrize("detector", DETECTORS)
def test_detector_default_mask(events, detector):
    secret, masked, _ = CASES[detector]
    start, _ = recorded_tool(events, "t", {"text": f"x {secret} y"}, action="mask", detector=detector)
    assert start == {"text": f"x {masked} y"}


@pytest.mark.parametrize("detector", DETECTORS)
def test_detector_leaves_look_alikes_alone(events, detector):
    lookalikes = CASES[detector][2]
    args = {f"s{i}": f"value {text} end" for i, text in enumerate(lookalikes)}
    start, _ = recorded_tool(events, "t", args, action="redact", detector=detector)
    assert start == args


def test_all_detectors_at_once(events):
    text = " | ".join(case[0] for case in CASES.values())
    rules = [BuiltinConfig(action="redact", detector=d) for d in DETECTORS]

    async def run():
        async with plugin.plugin(plugin.PluginConfig(components=[ComponentSpec(config_of(*rules))])):
            tools.execute_sync("t", {"text": text}, lambda a: None)
    asyncio.run(run())
    recorded = events.one("t", "start").data["text"]
    assert [part.strip() for part in recorded.split("|")] == ["[REDACTED]"] * len(CASES)


# ---- actions and target paths -----------------------------------------------------------


def test_regex_replace_at_nested_target_paths(events):
    args = {"api_key": "sk-abc123", "nested": {"token": "sk-secret", "note": "sk-leave-me"},
            "items": ["sk-0", "sk-1"], "a/b": {"c~d": "sk-odd"}}
    start, end = recorded_tool(events, "t", args, {"result": {"secret": "sk-final", "public": "ok"}},
                               action="regex_replace", pattern="sk-[A-Za-z0-9_-]+", replacement="[KEY]",
                               target_paths=["/api_key", "/nested/token", "/items/1", "/a~1b/c~0d",
                                             "/result/secret"])
    assert start == {"api_key": "[KEY]", "nested": {"token": "[KEY]", "note": "sk-leave-me"},
                     "items": ["sk-0", "[KEY]"], "a/b": {"c~d": "[KEY]"}}
    assert end == {"result": {"secret": "[KEY]", "public": "ok"}}


def test_regex_replace_expands_groups(events):
    start, _ = recorded_tool(events, "t", {"m": "mail alice@example.com, bob@corp.io"},
                             action="regex_replace", pattern=r"(?<user>\w+)@(\w+)\.(\w+)",
                             replacement="${user}@$2 ($$) [${9}]")
    assert start == {"m": "mail alice@example ($) [], bob@corp ($) []"}


def test_remove_at_target_paths_drops_members_and_nulls_elements(events):
    args = {"secret": "abc", "nested": {"keep": "yes", "remove_me": {"deep": 1}}, "items": ["a", "b", "c"]}
    start, end = recorded_tool(events, "t", args, {"result": {"token": "drop-me", "public": "ok"}},
                               action="remove", target_paths=["/secret", "/nested/remove_me", "/items/1",
                                                              "/result/token"])
    assert start == {"nested": {"keep": "yes"}, "items": ["a", None, "c"]}
    assert end == {"result": {"public": "ok"}}


def test_remove_without_targets_drops_string_leaves(events):
    args = {"secret": "abc", "nested": {"keep": "yes", "count": 3}, "items": ["a", "b", 9], "public": True}
    start, _ = recorded_tool(events, "t", args, action="remove")
    assert start == {"nested": {"count": 3}, "items": [None, None, 9], "public": True}


def test_remove_with_a_detector_drops_only_matching_strings(events):
    args = {"from": "alice@example.com", "subject": "hello", "cc": ["x", "cc: bob@example.com"]}
    start, _ = recorded_tool(events, "t", args, action="remove", detector="email")
    assert start == {"subject": "hello", "cc": ["x", None]}


def test_remove_of_the_root(events):
    start, end = recorded_tool(events, "t", {"a": "b"}, "plain string result", action="remove", target_paths=[""])
    assert start is None and end is None


def test_hash_whole_strings_and_matches(events):
    digest = hashlib.sha256(b"alice@example.com").hexdigest()
    start, _ = recorded_tool(events, "t", {"user": "alice@example.com", "n": 5}, action="hash")
    assert start == {"user": digest, "n": 5}
    events.events.clear()
    start, _ = recorded_tool(events, "t", {"m": "to alice@example.com now"}, action="hash", detector="email")
    assert start == {"m": f"to {digest} now"}


def test_mask_generic_and_custom_mask_char(events):
    start, _ = recorded_tool(events, "t", {"card": "4111111111111111", "short": "ab", "uni": "héllo wörld"},
                             action="mask", unmasked_prefix=2, unmasked_suffix=2, mask_char="#")
    assert start == {"card": "41############11", "short": "ab", "uni": "hé#######ld"}
    events.events.clear()
    # explicit prefix/suffix win over the detector's default mask
    start, _ = recorded_tool(events, "t", {"m": "mail alice@example.com"}, action="mask", detector="email",
                             unmasked_suffix=4, mask_char="x")
    assert start == {"m": "mail " + "x" * 13 + ".com"}


def test_rules_apply_in_order(events):
    rules = [BuiltinConfig(action="redact", detector="email", replacement="<email>"),
             BuiltinConfig(action="regex_replace", pattern="<email>", replacement="[gone]")]

    async def run():
        async with plugin.plugin(plugin.PluginConfig(components=[ComponentSpec(config_of(*rules))])):
            tools.execute_sync("t", {"m": "a@example.com"}, lambda a: None)
    asyncio.run(run())
    assert events.one("t", "start").data == {"m": "[gone]"}


# ---- what is recorded, and what is not ----------------------------------------------------


async def test_tool_and_caller_get_the_real_values(events):
    seen = []

    def tool(args):
        seen.append(args)
        return {"reply": "sent to alice@example.com"}

    try:
        await activate(config_of(BuiltinConfig(action="redact", detector="email")))
        result = await tools.execute("mailer", {"to": "alice@example.com"}, tool)
    finally:
        plugin.clear()
    assert seen == [{"to": "alice@example.com"}]
    assert result == {"reply": "sent to alice@example.com"}
    assert events.one("mailer", "start").data == {"to": "[REDACTED]"}
    assert events.one("mailer", "end").data == {"reply": "sent to [REDACTED]"}


async def test_surfaces_can_be_switched_off(events):
    try:
        await activate(config_of(BuiltinConfig(action="redact", detector="email"), tool_output=False))
        tools.execute_sync("t", {"to": "a@example.com"}, lambda a: {"to": "a@example.com"})
    finally:
        plugin.clear()
    assert events.one("t", "start").data == {"to": "[REDACTED]"}
    assert events.one("t", "end").data == {"to": "a@example.com"}


async def test_llm_request_headers_content_and_response(events):
    headers = {"Authorization": "Bearer abcdef0123456789xyz", "X-Trace": "t-1"}
    content = {"model": "m", "messages": [{"role": "user", "content": "I am alice@example.com"}]}
    seen = []

    def model(request):
        seen.append((request.headers, request.content))
        return {"choices": [{"message": {"content": "hi alice@example.com"}}]}

    rules = [BuiltinConfig(action="redact", detector="email"), BuiltinConfig(action="redact", detector="bearer_token")]
    try:
        await activate(config_of(*rules))
        response = await llm.execute("model", LLMRequest(headers, content), model)
    finally:
        plugin.clear()
    assert seen == [(headers, content)] and response["choices"][0]["message"]["content"] == "hi alice@example.com"
    assert events.one("model", "start").data == {
        "headers": {"Authorization": "[REDACTED]", "X-Trace": "t-1"},
        "content": {"model": "m", "messages": [{"role": "user", "content": "I am [REDACTED]"}]}}
    assert events.one("model", "end").data == {"choices": [{"message": {"content": "hi [REDACTED]"}}]}


async def test_llm_target_paths_point_into_the_request_content(events):
    content = {"messages": [{"role": "system", "content": "alice@example.com"},
                            {"role": "user", "content": "alice@example.com"}]}
    try:
        await activate(config_of(BuiltinConfig(action="redact", detector="email",
                                               target_paths=["/messages/1/content"])))
        await llm.execute("model", LLMRequest({"From": "alice@example.com"}, content), lambda r: {})
    finally:
        plugin.clear()
    assert events.one("model", "start").data == {
        "headers": {"From": "alice@example.com"},
        "content": {"messages": [{"role": "system", "content": "alice@example.com"},
                                 {"role": "user", "content": "[REDACTED]"}]}}


async def test_stream_chunks_and_the_final_response_are_redacted(events):
    async def model(request):
        yield {"delta": "write to alice@example.com"}
        yield {"delta": " or call +1 (555) 123-4567"}

    chunks: list = []
    rules = [BuiltinConfig(action="redact", detector="email"), BuiltinConfig(action="mask", detector="phone")]
    try:
        await activate(config_of(*rules))
        stream = await llm.stream_execute("model", LLMRequest({}, {"prompt": "p"}), model, chunks.append,
                                          lambda: {"text": "".join(c["delta"] for c in chunks)})
        received = [c async for c in stream]
    finally:
        plugin.clear()
    assert received == [{"delta": "write to alice@example.com"}, {"delta": " or call +1 (555) 123-4567"}]
    marks = [e.data for e in events.events if e.name == "llm.chunk"]
    assert marks == [{"chunk_index": 0, "chunk": {"delta": "write to [REDACTED]"}},
                     {"chunk_index": 1, "chunk": {"delta": " or call +* (***) ***-4567"}}]
    assert events.one("model", "end").data == {"text": "write to [REDACTED] or call +* (***) ***-4567"}


async def test_priority_orders_it_among_other_sanitizers(events):
    seen = []

    def later(name, payload):
        seen.append(payload)
        return payload

    guardrails.register_tool_sanitize_request("later", 500, later)
    try:
        await activate(config_of(BuiltinConfig(action="redact", detector="email")))
        tools.execute_sync("t", {"to": "a@example.com"}, lambda a: None)
    finally:
        plugin.clear()
        guardrails.deregister_tool_sanitize_request("later")
    assert seen == [{"to": "[REDACTED]"}]


async def test_a_matching_failure_fails_closed(events):
    # catastrophic backtracking hits PCRE2's match limit: the payload is not recorded
    try:
        await activate(config_of(BuiltinConfig(action="redact", pattern="(a+)+$")))
        with pytest.warns(RuntimeWarning, match="pii_redaction.*matching failed"):
            result = tools.execute_sync("t", {"m": "a" * 40 + "b"}, lambda a: "fine")
    finally:
        plugin.clear()
    assert result == "fine"
    assert events.one("t", "start").data is None


def test_concurrent_calls_share_one_compiled_policy(events):
    rules = [BuiltinConfig(action="redact", detector=d) for d in DETECTORS]

    def call(i: int) -> object:
        return tools.execute_sync(f"t{i % 4}", {"m": f"user{i}@example.com card 4111 1111 1111 1111"},
                                  lambda a: a["m"])

    asyncio.run(activate(config_of(*rules)))
    try:
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(call, range(200)))
    finally:
        plugin.clear()
    assert results[7] == "user7@example.com card 4111 1111 1111 1111"
    recorded = [e.data for e in events.events if e.name.startswith("t")]
    assert len(recorded) == 400
    assert all(d in ({"m": "[REDACTED] card [REDACTED]"}, "[REDACTED] card [REDACTED]") for d in recorded)


# ---- hashing is stable across processes ------------------------------------------------

HASH_SCRIPT = """
import asyncio, json
from nemo_relay import plugin, subscribers, tools
from nemo_relay.pii_redaction import BuiltinConfig, ComponentSpec, PiiRedactionConfig
seen = []
subscribers.register("s", lambda e: seen.append(e.to_dict()["data"]))
asyncio.run(plugin.initialize(plugin.PluginConfig(components=[ComponentSpec(
    PiiRedactionConfig(builtin=BuiltinConfig(action="hash", detector="email")))])))
tools.execute_sync("t", {"m": "alice@example.com"}, lambda a: None)
print(json.dumps(seen[0]))
"""


def test_hashes_are_the_same_in_every_process(tmp_path):
    runs = [subprocess.run([sys.executable, "-c", HASH_SCRIPT], capture_output=True, text=True,
                           check=True, cwd=tmp_path).stdout for _ in range(2)]
    assert runs[0] == runs[1]
    assert json.loads(runs[0]) == {"m": hashlib.sha256(b"alice@example.com").hexdigest()}


# ---- the exported file ---------------------------------------------------------------------


async def run_workload(secrets: dict[str, str]) -> None:
    """A tool call, an LLM call and a stream, every secret in each."""
    text = " ; ".join(secrets.values())

    async def model(request):
        for secret in secrets.values():
            yield {"delta": f"chunk {secret}\n"}

    chunks: list = []
    tools.execute_sync("tool", {"text": text, "nested": [{"deep": secrets["jwt"]}]}, lambda a: {"echo": a})
    await llm.execute("model", LLMRequest({"Authorization": secrets["bearer_token"]},
                                          {"messages": [{"role": "user", "content": text}]}),
                      lambda r: {"content": text})
    stream = await llm.stream_execute("stream", LLMRequest({}, {"q": text}), model, chunks.append,
                                      lambda: {"text": "".join(c["delta"] for c in chunks)})
    assert len([c async for c in stream]) == len(secrets)


def assert_nothing_leaked(written: str, secrets: dict[str, str]) -> None:
    assert len(written.splitlines()) == 2 + 2 + 2 + len(secrets)
    leaked = [name for name, secret in secrets.items() if secret in written]
    # the file is JSON: "/" may be written escaped, so check that form too
    leaked += [name for name, secret in secrets.items() if json.dumps(secret)[1:-1] in written]
    assert not leaked, f"leaked into the ATOF file: {leaked}\n{written}"
    assert "[REDACTED]" in written


ALL_RULES = [BuiltinConfig(action="redact", detector=d) for d in DETECTORS]


async def test_nothing_redacted_reaches_the_atof_file_plugins_file(tmp_path):
    from nemo_relay.plugins import manifest

    secrets = {name: case[0] for name, case in CASES.items()}
    path = tmp_path / "events.jsonl"
    spec = plugin.DynamicPluginActivationSpec("atof_file", "native", manifest("atof_file"),
                                              config={"path": str(path), "mode": "overwrite"})
    async with await plugin.initialize_with_dynamic_plugins(
            plugin.PluginConfig(components=[ComponentSpec(config_of(*ALL_RULES))]), [spec]):
        await run_workload(secrets)
    assert_nothing_leaked(path.read_text(), secrets)


async def test_nothing_redacted_reaches_the_atof_exporters_file(tmp_path):
    import nemo_relay

    secrets = {name: case[0] for name, case in CASES.items()}
    config = nemo_relay.AtofExporterConfig()
    config.output_directory = str(tmp_path)
    config.filename = "exported.jsonl"
    exporter = nemo_relay.AtofExporter(config)
    exporter.register("pii-atof")
    try:
        async with plugin.plugin(plugin.PluginConfig(components=[ComponentSpec(config_of(*ALL_RULES))])):
            await run_workload(secrets)
    finally:
        exporter.deregister("pii-atof")
        exporter.shutdown()
    assert_nothing_leaked((tmp_path / "exported.jsonl").read_text(), secrets)


def test_the_readme_example_runs(tmp_path):
    from _build import ROOT

    out = subprocess.run([sys.executable, str(ROOT / "examples" / "pii_redaction.py")], capture_output=True,
                         text=True, check=True, cwd=tmp_path).stdout.splitlines()
    digest = hashlib.sha256(b"c-1042").hexdigest()
    assert out == [
        'start {"to": "a****@example.com", "customer_id": "' + digest + '", '
        '"body": "Your card [REDACTED] was charged."}',
        'end "sent to a****@example.com"',
        "caller got: sent to alice@example.com",
    ]


# ---- codecs -----------------------------------------------------------------------------


async def test_redaction_in_messages_decoded_by_a_codec(events):
    from nemo_relay.codecs import OpenAIChatCodec

    content = {"model": "gpt-4o", "messages": [{"role": "system", "content": "be brief"},
                                               {"role": "user", "content": "I am bob@example.com"}]}
    response = {"id": "r1", "model": "gpt-4o", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hello bob@example.com"}, "finish_reason": "stop"}]}
    seen = []

    def model(request):
        seen.append(request.content)
        return response

    try:
        await activate(config_of(BuiltinConfig(action="redact", detector="email")))
        result = await llm.execute("chat", LLMRequest({}, content), model, codec=OpenAIChatCodec(),
                                   response_codec=OpenAIChatCodec())
    finally:
        plugin.clear()
    assert seen == [content] and result == response
    start, end = events.one("chat", "start"), events.one("chat", "end")
    assert start.data["content"]["messages"][1] == {"role": "user", "content": "I am [REDACTED]"}
    assert start.category_profile["annotated_request"]["messages"] == [
        {"role": "system", "content": "be brief"}, {"role": "user", "content": "I am [REDACTED]"}]
    assert end.data["choices"][0]["message"]["content"] == "Hello [REDACTED]"
    assert end.category_profile["annotated_response"]["message"] == "Hello [REDACTED]"
    assert "bob@example.com" not in json.dumps([e.to_dict() for e in events.events])


async def test_with_a_codec_target_paths_point_into_the_annotated_request(events):
    from nemo_relay.codecs import AnthropicMessagesCodec

    # Anthropic keeps the system prompt outside "messages"; decoded, it is messages[0]
    content = {"model": "claude", "max_tokens": 10, "system": "operator is ops@example.com",
               "messages": [{"role": "user", "content": "I am bob@example.com"}]}
    config = config_of(BuiltinConfig(action="redact", detector="email", target_paths=["/messages/0/content"]),
                       codec="anthropic_messages")
    try:
        await activate(config)
        await llm.execute("claude", LLMRequest({}, content), lambda r: {}, codec=AnthropicMessagesCodec())
    finally:
        plugin.clear()
    start = events.one("claude", "start")
    assert start.data["content"] == {"model": "claude", "max_tokens": 10, "system": "operator is [REDACTED]",
                                     "messages": [{"role": "user", "content": "I am bob@example.com"}]}
    assert start.category_profile["annotated_request"]["messages"][0] == {
        "role": "system", "content": "operator is [REDACTED]"}


async def test_a_redaction_the_codec_cannot_encode_fails_closed(events):
    content = {"model": "gpt", "messages": [{"role": "system", "content": "x"},
                                            {"role": "user", "content": "I am bob@example.com"}]}
    config = config_of(BuiltinConfig(action="remove", target_paths=["/messages/1"]), codec="openai_chat")
    try:
        await activate(config)
        with pytest.warns(RuntimeWarning, match="pii_redaction: invalid messages"):
            await llm.execute("chat", LLMRequest({}, content), lambda r: {"ok": True})
    finally:
        plugin.clear()
    assert events.one("chat", "start").data is None


async def test_without_a_codec_target_paths_point_into_the_raw_content(events):
    content = {"model": "claude", "system": "operator is ops@example.com",
               "messages": [{"role": "user", "content": "I am bob@example.com"}]}
    try:
        await activate(config_of(BuiltinConfig(action="redact", detector="email", target_paths=["/system"])))
        await llm.execute("claude", LLMRequest({}, content), lambda r: {})
    finally:
        plugin.clear()
    assert events.one("claude", "start").data["content"]["system"] == "operator is [REDACTED]"
