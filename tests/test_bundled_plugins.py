"""The bundled native plugins (``nemo_relay.plugins``): ``redact`` and
``atof_file``, loaded from the installed package through their generated
manifests (sha256 included)."""

from __future__ import annotations

import hashlib
import json
import os
import threading

import pytest

from nemo_relay import LLMRequest, ScopeType, errors, guardrails, llm, plugin, scope, subscribers, tools
from nemo_relay.plugins import manifest, names

SECRETS = ("sk-live-0123456789", "hunter2-admin", "s3cr3t-token-value", "Bearer eyJhbGciOi")

ATOF_KEYS = {"kind", "atof_version", "uuid", "parent_uuid", "timestamp", "name", "data", "data_schema",
             "metadata", "category", "category_profile"}


def spec(name: str, config: dict | None = None) -> plugin.DynamicPluginActivationSpec:
    return plugin.DynamicPluginActivationSpec(name, "native", manifest(name), config=config or {})


async def activate(*specs, config=None) -> plugin.PluginHostActivation:
    return await plugin.initialize_with_dynamic_plugins(config, list(specs))


def recorded_json(events) -> str:
    return "\n".join(e.to_json() for e in events.events)


def assert_no_secret(events, secrets=SECRETS) -> None:
    text = recorded_json(events)
    leaked = [s for s in secrets if s in text]
    assert not leaked, f"secrets in recorded events: {leaked}\n{text}"


def diagnostics_of(kind: str, config: dict) -> list[dict]:
    """plugin.validate of one component, with the kind loaded for the call."""
    with plugin.load_native_plugins([plugin.NativePluginLoadSpec(kind, manifest(kind))]):
        return plugin.validate({"components": [{"kind": kind, "config": config}]})["diagnostics"]


# ---- the package ---------------------------------------------------------------------


def test_bundled_names_and_manifests_pass_every_check():
    assert names() == ["atof_file", "redact"]
    for name in names():
        facts = plugin.check_manifest(manifest(name))
        assert facts["id"] == name and facts["kind"] == "native"
        assert facts["symbol"] == f"nemo_relay_{name}_plugin"
        assert facts["library"] == os.path.join(os.path.dirname(manifest(name)), f"lib{name}.so")
        with open(facts["library"], "rb") as f:
            assert facts["sha256"] == "sha256:" + hashlib.sha256(f.read()).hexdigest()
        mode = os.stat(facts["library"]).st_mode
        assert mode & 0o100 and not mode & 0o022  # built 0755; the loader refuses group/other-writable


def test_unknown_bundled_plugin_lists_the_available_ones():
    with pytest.raises(ValueError, match="unknown bundled plugin 'nope'; available: atof_file, redact"):
        manifest("nope")
    with pytest.raises(ValueError, match="unknown bundled plugin"):
        manifest("../redact")


# ---- redact ----------------------------------------------------------------------------


async def test_redaction_keeps_secrets_out_of_events_but_not_out_of_the_call(events):
    args = {
        "city": "Paris",
        "api_key": SECRETS[0],
        "auth": {"Authorization": SECRETS[3], "scheme": "bearer"},
        "users": [{"name": "ann", "PASSWORD": SECRETS[1]}, [{"Secret": {"nested": SECRETS[2]}}]],
    }
    received = []

    def weather(a):
        received.append(a)
        return {"temperature_c": 18, "token": SECRETS[2], "echo": a}

    async with await activate(spec("redact")) as host:
        assert host.report == {"diagnostics": []}
        result = await tools.execute("get_weather", args, weather)
        sync_result = tools.execute_sync("get_weather", args, weather)

    # the function got the real values; the caller got the real result
    assert received == [args, args]
    assert result == sync_result == {"temperature_c": 18, "token": SECRETS[2], "echo": args}
    # nothing secret was recorded, and the rest of the payload is intact
    assert_no_secret(events)
    starts, ends = events.named("get_weather", "start"), events.named("get_weather", "end")
    assert len(starts) == len(ends) == 2
    redacted_args = {
        "city": "Paris",
        "api_key": "[REDACTED]",
        "auth": {"Authorization": "[REDACTED]", "scheme": "bearer"},
        "users": [{"name": "ann", "PASSWORD": "[REDACTED]"}, [{"Secret": "[REDACTED]"}]],
    }
    assert starts[0].data == redacted_args
    assert ends[0].data == {"temperature_c": 18, "token": "[REDACTED]", "echo": redacted_args}


async def test_custom_keys_extend_the_defaults_case_insensitively_and_replace_any_value(events):
    config = {"keys": ["SSN", "card"], "replacement": "***"}
    async with await activate(spec("redact", config)):
        tools.execute_sync("t", {"ssn": "123-45-6789", "Card": {"number": 4111, "cvv": 123},
                                 "cArD": [1, 2], "ok": None, "password": None, "Ssn_like": "kept"},
                           lambda a: "done")
    assert events.one("t", "start").data == {
        "ssn": "***", "Card": "***", "cArD": "***", "ok": None, "password": "***", "Ssn_like": "kept"}
    assert events.one("t", "end").data == "done"


async def test_replace_default_keys_uses_only_the_configured_keys(events):
    config = {"keys": ["ssn"], "replace_default_keys": True}
    async with await activate(spec("redact", config)):
        tools.execute_sync("t", {"ssn": "123", "password": "visible"}, lambda a: None)
    assert events.one("t", "start").data == {"ssn": "[REDACTED]", "password": "visible"}


async def test_patterns_are_replaced_inside_every_string_value(events):
    config = {"patterns": ["hunter2", "hunter2-admin", "sk-live-0123456789"]}
    args = {"note": "pw hunter2-admin, again hunter2 and hunter2!",
            "list": ["sk-live-0123456789", {"deep": "x sk-live-0123456789 y"}, 7, True],
            "hunter2": "the key is not a value"}
    async with await activate(spec("redact", config)):
        result = tools.execute_sync("t", args, lambda a: "result mentions sk-live-0123456789 twice: sk-live-0123456789")
    assert result.count("sk-live-0123456789") == 2
    assert events.one("t", "start").data == {
        "note": "pw [REDACTED], again [REDACTED] and [REDACTED]!",  # longest match first
        "list": ["[REDACTED]", {"deep": "x [REDACTED] y"}, 7, True],
        "hunter2": "the key is not a value",  # keys are never rewritten
    }
    assert events.one("t", "end").data == "result mentions [REDACTED] twice: [REDACTED]"


PATTERN_CASES = [
    # (text, what is recorded) with patterns ["sk-live-", "Bearer "]
    ("sk-live-abc", "[REDACTED]"),  # the README's example: nothing of the secret is left
    ("key: sk-live-abc.def_ghi-J+k/l=~, next", "key: [REDACTED], next"),
    ('say "sk-live-abc" now', 'say "[REDACTED]" now'),
    ("https://x.test/?k=sk-live-abc&y=1", "https://x.test/?k=[REDACTED]&y=1"),
    ("xsk-live-abc", "x[REDACTED]"),  # from where the pattern starts
    ("Authorization: Bearer eyJhbGciOi.J9.x", "Authorization: [REDACTED]"),
    ("sk-live-", "[REDACTED]"),
    ("sk-live-abc\nsk-live-def", "[REDACTED]\n[REDACTED]"),
    ("sk-live-abc\u00e9", "[REDACTED]\u00e9"),  # a non-ASCII character ends the token
]


@pytest.mark.parametrize("text,recorded", PATTERN_CASES)
async def test_a_pattern_redacts_the_whole_token_it_starts(events, text, recorded):
    async with await activate(spec("redact", {"patterns": ["sk-live-", "Bearer "]})):
        tools.execute_sync("t", {"note": text}, lambda a: None)
    assert events.one("t", "start").data == {"note": recorded}


async def test_llm_headers_content_and_response_are_redacted(events):
    config = {"patterns": ["hunter2-admin"]}
    headers = {"Authorization": SECRETS[3], "X-Trace": "abc"}
    content = {"messages": [{"role": "user", "content": "my password is hunter2-admin"}], "api_key": SECRETS[0]}
    seen = []

    def model(request):
        seen.append((request.headers, request.content))
        return {"choices": [{"text": "ok hunter2-admin"}], "usage": {"tokens": 3}, "token": SECRETS[2]}

    async with await activate(spec("redact", config)):
        response = await llm.execute("model", LLMRequest(headers, content), model)
        handle = llm.call("manual-model", LLMRequest(headers, content))
        llm.call_end(handle, {"password": SECRETS[1]})

    assert seen == [(headers, content)]
    assert response["token"] == SECRETS[2] and response["choices"][0]["text"] == "ok hunter2-admin"
    assert_no_secret(events)
    start = events.one("model", "start").data
    assert start == {
        "headers": {"Authorization": "[REDACTED]", "X-Trace": "abc"},
        "content": {"messages": [{"role": "user", "content": "my password is [REDACTED]"}], "api_key": "[REDACTED]"},
    }
    assert events.one("model", "end").data == {
        "choices": [{"text": "ok [REDACTED]"}], "usage": {"tokens": 3}, "token": "[REDACTED]"}
    assert events.one("manual-model", "start").data == start
    assert events.one("manual-model", "end").data == {"password": "[REDACTED]"}


async def test_llm_request_keeps_its_shape_whatever_the_keys(events):
    config = {"keys": ["headers", "content"], "replace_default_keys": True}
    async with await activate(spec("redact", config)):
        await llm.execute("model", LLMRequest({"content": "h"}, {"content": "c", "other": 1}), lambda r: {})
    assert events.one("model", "start").data == {"headers": {"content": "[REDACTED]"},
                                                 "content": {"content": "[REDACTED]", "other": 1}}


async def test_default_priority_runs_redaction_before_other_sanitizers(events):
    seen = []

    def observer(name, args):
        seen.append(args)
        return args

    guardrails.register_tool_sanitize_request("observer", 0, observer)
    try:
        async with await activate(spec("redact")):
            tools.execute_sync("t", {"token": "x1"}, lambda a: None)
        async with await activate(spec("redact", {"priority": 1000})):
            tools.execute_sync("t", {"token": "x2"}, lambda a: None)
    finally:
        assert guardrails.deregister_tool_sanitize_request("observer")
    # priority -1000: the observer only sees the redacted args; 1000: the original
    assert seen == [{"token": "[REDACTED]"}, {"token": "x2"}]
    assert [e.data for e in events.named("t", "start")] == [{"token": "[REDACTED]"}] * 2


async def test_several_redact_components_are_chained(events):
    config = {"components": [{"kind": "redact", "config": {"keys": ["ssn"], "replace_default_keys": True,
                                                             "replacement": "<ssn>"}}]}
    async with await activate(spec("redact", {"patterns": ["4111"]}), config=config):
        tools.execute_sync("t", {"ssn": "1", "card": "4111 1111", "token": "t"}, lambda a: None)
    assert events.one("t", "start").data == {"ssn": "<ssn>", "card": "[REDACTED] 1111", "token": "[REDACTED]"}


async def test_bad_redact_config_is_rejected_with_diagnostics():
    bad = {"keys": "api_key", "patterns": ["", 3], "replacement": 5, "priority": 1.5,
           "replace_default_keys": "yes"}
    diags = diagnostics_of("redact", bad)
    assert all(d["level"] == "error" and d["component"] == "redact" for d in diags)
    assert [(d["code"], d["field"]) for d in diags] == [
        ("redact.invalid_keys", "keys"),
        ("redact.invalid_patterns", "patterns"),
        ("redact.invalid_patterns", "patterns"),
        ("redact.invalid_replace_default_keys", "replace_default_keys"),
        ("redact.invalid_replacement", "replacement"),
        ("redact.invalid_priority", "priority"),
    ]
    assert diags[0]["message"] == "redact: keys must be an array of non-empty strings, not a string"
    assert diags[1]["message"] == "redact: patterns must be an array of non-empty strings; item 0 is empty"
    assert diags[2]["message"] == "redact: patterns must be an array of non-empty strings; item 1 is a number"

    with pytest.raises(errors.InvalidConfig, match="keys must be an array of non-empty strings") as info:
        await activate(spec("redact", bad))
    assert "replacement must be a string, not a number" in str(info.value)
    assert plugin.list_kinds() == [] and plugin.report() is None

    assert diagnostics_of("redact", {"priority": 2**31})[0]["code"] == "redact.invalid_priority"
    assert diagnostics_of("redact", {"keys": None, "patterns": [], "priority": -5}) == []


async def test_unknown_redact_fields_are_warnings_in_the_report():
    with pytest.warns(RuntimeWarning) as caught:
        host = await activate(spec("redact", {"colour": "blue", "replace_default_keys": True}))
    assert [str(w.message) for w in caught] == [
        "redact: unknown config field 'colour' is ignored (known fields: keys, replace_default_keys, "
        "patterns, replacement, priority) [plugin 'redact', field 'colour', redact.unknown_field]",
        "redact: replace_default_keys is true but no keys or patterns are configured; nothing will be "
        "redacted [plugin 'redact', field 'keys', redact.nothing_to_redact]",
    ]
    async with host:
        assert host.report["diagnostics"] == [
            {"level": "warning", "code": "redact.unknown_field", "component": "redact", "field": "colour",
             "message": "redact: unknown config field 'colour' is ignored (known fields: keys, "
                        "replace_default_keys, patterns, replacement, priority)"},
            {"level": "warning", "code": "redact.nothing_to_redact", "component": "redact", "field": "keys",
             "message": "redact: replace_default_keys is true but no keys or patterns are configured; "
                        "nothing will be redacted"},
        ]


# ---- atof_file -------------------------------------------------------------------------


def read_lines(path) -> list[str]:
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        text = f.read()
    assert text == "" or text.endswith("\n"), "the file must end with a whole line"
    return text.split("\n")[:-1]  # JSON Lines: only "\n" ends a line (not U+2028)


def read_events(path) -> list[dict]:
    out = []
    for line in read_lines(path):
        value = json.loads(line)
        assert isinstance(value, dict) and ATOF_KEYS <= value.keys(), line
        assert value["atof_version"] == "0.1" and value["kind"] in ("scope", "mark")
        out.append(value)
    return out


async def test_every_event_is_one_atof_line_in_order(tmp_path, events):
    path = tmp_path / "events.jsonl"
    async with await activate(spec("atof_file", {"path": str(path)})):
        with scope.scope("agent", ScopeType.Agent):
            scope.event("note", data={"text": "line\nbreak \u00e9\u2028"})
            tools.execute_sync("tool", {"x": 1}, lambda a: {"y": 2})
            await llm.execute("model", LLMRequest({}, {"prompt": "p"}), lambda r: {"answer": "a"})
    written = read_events(path)
    assert len(written) == len(events.events) == 7
    assert written == [e.to_dict() for e in events.events]
    assert [(w["kind"], w["name"], w.get("scope_category")) for w in written] == [
        ("scope", "agent", "start"), ("mark", "note", None), ("scope", "tool", "start"),
        ("scope", "tool", "end"), ("scope", "model", "start"), ("scope", "model", "end"),
        ("scope", "agent", "end")]
    assert written[1]["data"] == {"text": "line\nbreak \u00e9\u2028"}


async def test_redacted_events_reach_the_file_redacted(tmp_path):
    path = tmp_path / "events.jsonl"
    async with await activate(spec("redact"), spec("atof_file", {"path": str(path), "mode": "overwrite"})):
        tools.execute_sync("t", {"password": SECRETS[1]}, lambda a: {"token": SECRETS[2]})
    text = path.read_text()
    assert len(read_events(path)) == 2
    assert SECRETS[1] not in text and SECRETS[2] not in text and "[REDACTED]" in text


@pytest.mark.parametrize("mode", ["append", "overwrite", None])
async def test_append_and_overwrite(tmp_path, mode):
    path = tmp_path / "events.jsonl"
    path.write_text('{"previous": true}\n')
    config = {"path": str(path)} if mode is None else {"path": str(path), "mode": mode}
    for round_ in range(2):
        async with await activate(spec("atof_file", config)):
            scope.event("round", data=round_)
    lines = read_lines(path)
    if mode == "overwrite":  # truncated at each registration
        assert [json.loads(x)["data"] for x in lines] == [1]
    else:  # append is the default
        assert lines[0] == '{"previous": true}' and [json.loads(x)["data"] for x in lines[1:]] == [0, 1]


async def test_flush_every_n_events_and_when_cleared(tmp_path):
    path = tmp_path / "events.jsonl"
    async with await activate(spec("atof_file", {"path": str(path), "flush_every": 5})):
        for i in range(4):
            scope.event("m", data=i)
        assert read_lines(path) == []  # buffered
        scope.event("m", data=4)
        assert len(read_lines(path)) == 5  # the fifth event wrote the buffer
        scope.event("m", data=5)
        scope.event("m", data=6)
        assert len(read_lines(path)) == 5
    assert [e["data"] for e in read_events(path)] == list(range(7))  # clearing flushed the rest


async def test_subscribers_flush_writes_every_buffered_file(tmp_path, events):
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    config = {"components": [{"kind": "atof_file", "config": {"path": str(second), "flush_every": 1000}}]}
    async with await activate(spec("atof_file", {"path": str(first), "flush_every": 1000}), config=config):
        subscribers.flush()  # nothing buffered yet: nothing written
        assert read_lines(first) == [] and read_lines(second) == []
        for i in range(3):
            scope.event("m", data=i)
        assert read_lines(first) == [] and read_lines(second) == []  # buffered
        recorded = len(events.events)
        subscribers.flush()
        assert [e["data"] for e in read_events(first)] == [0, 1, 2]
        assert read_events(second) == read_events(first)
        assert len(events.events) == recorded  # flushing emits no event of its own
        scope.event("m", data=3)
        assert len(read_lines(first)) == 3  # buffering resumes after a flush
    assert [e["data"] for e in read_events(first)] == [0, 1, 2, 3]  # clearing flushed the rest
    subscribers.flush()  # the sinks are gone: nothing left to call
    assert read_events(second) == read_events(first)


def test_validation_opens_the_file_but_leaves_no_trace(tmp_path):
    missing = tmp_path / "new.jsonl"
    existing = tmp_path / "existing.jsonl"
    existing.write_text("keep\n")
    assert diagnostics_of("atof_file", {"path": str(missing), "mode": "overwrite"}) == []
    assert not missing.exists()
    assert diagnostics_of("atof_file", {"path": str(existing), "mode": "overwrite"}) == []
    assert existing.read_text() == "keep\n"


async def test_unwritable_paths_are_validation_errors(tmp_path):
    path = tmp_path / "no-such-dir" / "events.jsonl"
    with pytest.raises(errors.InvalidConfig, match="cannot open") as info:
        await activate(spec("atof_file", {"path": str(path)}))
    assert str(path) in str(info.value) and "No such file or directory" in str(info.value)
    assert plugin.list_kinds() == [] and plugin.report() is None

    (diag,) = diagnostics_of("atof_file", {"path": str(tmp_path)})
    assert diag["code"] == "atof_file.open_failed" and diag["field"] == "path"
    assert diag["message"] == f"atof_file: cannot open '{tmp_path}' for writing: Is a directory"


def test_bad_atof_file_config_diagnostics():
    assert [(d["level"], d["code"], d.get("field")) for d in diagnostics_of("atof_file", {})] == [
        ("error", "atof_file.missing_path", "path")]
    diags = diagnostics_of("atof_file", {"path": 3, "mode": "rewrite", "flush_every": 0, "extra": 1})
    assert [(d["level"], d["code"], d.get("field")) for d in diags] == [
        ("warning", "atof_file.unknown_field", "extra"),
        ("error", "atof_file.invalid_path", "path"),
        ("error", "atof_file.invalid_mode", "mode"),
        ("error", "atof_file.invalid_flush_every", "flush_every"),
    ]
    assert diags[2]["message"] == 'atof_file: mode must be "append" or "overwrite", not "rewrite"'
    assert diagnostics_of("atof_file", {"path": "", "flush_every": 2.5})[1]["code"] == "atof_file.invalid_flush_every"


async def test_concurrent_writers_never_interleave(tmp_path):
    # no Python subscriber here: with only native ones, emitters run without the GIL
    path = tmp_path / "events.jsonl"
    threads, per_thread = 4, 200
    start = threading.Barrier(threads)
    failures = []

    def emit(t):
        try:
            start.wait()
            for i in range(per_thread):
                scope.event("concurrent", data={"thread": t, "i": i, "pad": "x" * (i % 50)})
        except BaseException as exc:  # reported below
            failures.append(exc)

    async with await activate(spec("atof_file", {"path": str(path), "flush_every": 7})):
        workers = [threading.Thread(target=emit, args=(t,)) for t in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    assert failures == []
    written = read_events(path)
    assert len(written) == threads * per_thread
    assert sorted((e["data"]["thread"], e["data"]["i"]) for e in written) == [
        (t, i) for t in range(threads) for i in range(per_thread)]
    for t in range(threads):  # each thread's events keep their order
        assert [e["data"]["i"] for e in written if e["data"]["thread"] == t] == list(range(per_thread))


async def test_several_files(tmp_path):
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    config = {"components": [{"kind": "atof_file", "config": {"path": str(second), "flush_every": 1}}]}
    async with await activate(spec("atof_file", {"path": str(first)}), config=config):
        scope.event("both")
        assert len(read_lines(second)) == 1 and read_lines(first) == []
    assert read_events(first) == read_events(second)


# ---- config warnings are not dropped -----------------------------------------------------


async def test_a_config_warning_is_a_runtime_warning_naming_plugin_and_field(events):
    with pytest.warns(RuntimeWarning, match=r"unknown config field 'key' is ignored .*"
                                            r"\[plugin 'redact', field 'key', redact.unknown_field\]"):
        host = await activate(spec("redact", {"key": ["ssn"]}))  # "keys" misspelt
    async with host:
        tools.execute_sync("t", {"ssn": "123"}, lambda a: None)
    assert events.one("t", "start").data == {"ssn": "123"}  # what the warning is about

    # a Python plugin's own warning, through plugin.initialize
    class Picky:
        def validate(self, config):
            return [{"level": "warning", "code": "picky.odd", "message": "picky: odd value", "field": "x"}]

        def register(self, config, ctx):
            pass

    plugin.register("picky", Picky())
    try:
        with pytest.warns(RuntimeWarning, match=r"^picky: odd value \[plugin 'picky', field 'x', picky.odd\]$"):
            await plugin.initialize({"components": [{"kind": "picky", "config": {"x": 1}}]})
    finally:
        plugin.clear()
        plugin.deregister("picky")

    # a warning turned into an error installs nothing
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(RuntimeWarning):
            await activate(spec("redact", {"key": ["ssn"]}))
    assert plugin.report() is None and plugin.list_kinds() == []
