"""Python-defined plugins and the configuration transaction (reference §3)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nemo_relay import errors, guardrails, plugin, tools


class Recording:
    """A plugin that registers one tool request intercept tagging the args."""

    def __init__(self, tag: str = "tag", fail: bool = False, diagnostics=None, multiple: bool = True):
        self.tag = tag
        self.fail = fail
        self.diagnostics = diagnostics
        self.allows_multiple_components = multiple
        self.contexts = []
        self.configs = []

    def validate(self, config):
        return self.diagnostics

    def register(self, config, ctx):
        self.contexts.append(ctx)
        self.configs.append(config)
        ctx.register_tool_request_intercept("mark", config.get("priority", 0), False,
                                            lambda name, args: {**args, config.get("key", self.tag): True})
        if self.fail:
            raise RuntimeError("plugin refused")


@pytest.fixture
def kinds():
    made = []

    def add(kind, obj):
        plugin.register(kind, obj)
        made.append(kind)
        return obj

    yield add
    plugin.clear()
    for kind in made:
        plugin.deregister(kind)


async def test_register_initialize_namespaces_and_clear(kinds):
    p = kinds("alpha", Recording())
    assert "alpha" in plugin.list_kinds()
    report = await plugin.initialize(plugin.PluginConfig(components=[plugin.ComponentSpec("alpha", config={"key": "a"})]))
    assert report == {"diagnostics": []} and plugin.report() == report
    assert p.contexts[0].namespace is None  # dead once register returned
    assert tools.request_intercepts("t", {}) == {"a": True}
    plugin.clear()
    assert plugin.report() is None
    assert tools.request_intercepts("t", {}) == {}
    assert "alpha" in plugin.list_kinds()  # kinds stay registered


async def test_namespaces_with_several_components(kinds):
    seen = []

    class Names:
        def register(self, config, ctx):
            seen.append(ctx.namespace)
            ctx.register_subscriber("s", lambda e: None)

    kinds("multi", Names())
    await plugin.initialize({"components": [
        {"kind": "multi"}, {"kind": "multi", "enabled": False}, {"kind": "multi"}]})
    assert seen == ["__nemo_relay_plugin__multi__1__", "__nemo_relay_plugin__multi__2__"]
    plugin.clear()
    seen.clear()
    await plugin.initialize({"components": [{"kind": "multi"}]})
    assert seen == ["__nemo_relay_plugin__multi__"]


def test_validation_report_and_policies(kinds):
    kinds("solo", Recording(multiple=False, diagnostics=[{"level": "warning", "code": "x.y", "message": "careful"}]))
    report = plugin.validate({"version": 2, "components": [
        {"kind": "solo"}, {"kind": "solo", "enabled": False}, {"kind": "nobody"}]})
    assert report["diagnostics"] == [
        {"level": "error", "code": "plugin.unsupported_config_version", "field": "version",
         "message": "unsupported plugin config version 2; expected 1"},
        {"level": "error", "code": "plugin.duplicate_component", "component": "solo",
         "message": "plugin component 'solo' may only appear once"},
        {"level": "warning", "code": "x.y", "message": "careful", "component": "solo"},  # named by the host
        {"level": "warning", "code": "x.y", "message": "careful", "component": "solo"},
        {"level": "warning", "code": "plugin.unknown_component", "component": "nobody",
         "message": "plugin component 'nobody' is not registered"},
    ]
    quiet = plugin.validate({"components": [{"kind": "nobody"}], "policy": {"unknown_component": "ignore"}})
    assert quiet == {"diagnostics": []}
    strict = plugin.validate(plugin.PluginConfig(components=[plugin.ComponentSpec("nobody")],
                                                 policy=plugin.ConfigPolicy(unknown_component="error")))
    assert strict["diagnostics"][0]["level"] == "error"


@pytest.mark.parametrize("bad, message", [
    ({"components": "x"}, "components must be an array"),
    ({"components": [{"enabled": True}]}, "missing field `kind`"),
    ({"components": [{"kind": "k", "config": []}]}, "config must be an object"),
    ({"policy": {"unknown_component": "shout"}}, "unknown variant 'shout'"),
    ({"version": "one"}, "version must be an integer"),
])
def test_malformed_configs_raise_value_error(bad, message):
    with pytest.raises(ValueError, match=message):
        plugin.validate(bad)


async def test_unknown_kind_warns_in_validation_but_fails_activation():
    with pytest.raises(errors.NotFoundError, match="plugin component 'ghost' is not registered"):
        await plugin.initialize({"components": [{"kind": "ghost"}]})
    assert plugin.report() is None


async def test_failed_initialize_rolls_back_and_restores_the_previous_config(kinds):
    kinds("good", Recording("good"))
    kinds("bad", Recording("bad", fail=True))
    await plugin.initialize({"components": [{"kind": "good"}]})
    before = plugin.report()
    with pytest.raises(errors.RegistrationFailed, match="plugin refused"):
        await plugin.initialize({"components": [{"kind": "good", "config": {"key": "new"}}, {"kind": "bad"}]})
    # the failing config's registrations are gone and the previous config is back
    assert tools.request_intercepts("t", {}) == {"good": True}
    assert plugin.report() == before


async def test_error_diagnostics_block_initialize(kinds):
    kinds("picky", Recording(diagnostics=[{"level": "error", "code": "picky.no", "message": "nope one"},
                                          {"level": "error", "code": "picky.no", "message": "nope two"}]))
    with pytest.raises(errors.InvalidConfig, match="nope one; nope two"):
        await plugin.initialize({"components": [{"kind": "picky"}]})


async def test_broken_validate_becomes_a_diagnostic(kinds):
    class Broken:
        def validate(self, config):
            raise KeyError("oops")

        def register(self, config, ctx):
            pass

    kinds("broken", Broken())
    report = plugin.validate({"components": [{"kind": "broken"}]})
    assert report["diagnostics"][0]["code"] == "plugin.validate_failed"
    assert "KeyError" in report["diagnostics"][0]["message"]


async def test_unencodable_register_error_text_is_escaped(kinds):
    class Bad:
        def register(self, config, ctx):
            raise ValueError("\udc80")  # str(exc) is not valid UTF-8

    kinds("bad", Bad())
    with pytest.raises(errors.RegistrationFailed, match=r"raised ValueError: \\udc80"):
        await plugin.initialize({"components": [{"kind": "bad"}]})


async def test_plugin_context_manager(kinds):
    kinds("ctx", Recording("ctx"))
    async with plugin.plugin({"components": [{"kind": "ctx"}]}) as report:
        assert report == {"diagnostics": []}
        assert tools.request_intercepts("t", {}) == {"ctx": True}
    assert tools.request_intercepts("t", {}) == {}


async def test_plugin_context_registers_every_kind(kinds):
    names = []

    class Everything:
        def register(self, config, ctx):
            ctx.register_subscriber("sub", lambda e: None)
            for method in ("register_tool_sanitize_request_guardrail", "register_tool_sanitize_response_guardrail",
                           "register_tool_conditional_execution_guardrail", "register_tool_execution_intercept",
                           "register_llm_sanitize_request_guardrail", "register_llm_sanitize_response_guardrail",
                           "register_llm_conditional_execution_guardrail", "register_llm_execution_intercept",
                           "register_llm_stream_execution_intercept"):
                getattr(ctx, method)(method, 0, lambda *a: None)
                names.append(method)
            ctx.register_tool_request_intercept("tr", 0, True, lambda n, a: a)
            ctx.register_llm_request_intercept("lr", 0, False, lambda n, r, a: (r, a))
            with pytest.raises(errors.AlreadyExists):
                ctx.register_subscriber("sub", lambda e: None)

    kinds("everything", Everything())
    await plugin.initialize({"components": [{"kind": "everything"}]})
    # they are real registrations under the namespace
    assert guardrails.deregister_tool_sanitize_request(
        "__nemo_relay_plugin__everything__register_tool_sanitize_request_guardrail") is True
    plugin.clear()


async def test_plugin_context_checks_registrations_like_the_global_functions(kinds):
    async def async_guard(name, args):
        return args

    seen = {}

    class Checked:
        def register(self, config, ctx):
            for key, call in {
                "async guardrail": lambda: ctx.register_tool_sanitize_request_guardrail("y", 0, async_guard),
                "async llm guardrail": lambda: ctx.register_llm_conditional_execution_guardrail("y", 0, async_guard),
                "async request intercept": lambda: ctx.register_tool_request_intercept("y", 0, False, async_guard),
                "priority type": lambda: ctx.register_tool_execution_intercept("y", "high", lambda *a: None),
                "priority range": lambda: ctx.register_tool_execution_intercept("y", 2**31, lambda *a: None),
                "name": lambda: ctx.register_subscriber(7, lambda e: None),
                "callable": lambda: ctx.register_subscriber("y", "not callable"),
            }.items():
                try:
                    call()
                except (TypeError, ValueError) as exc:
                    seen[key] = exc
            # an async execution intercept is fine (it is awaited)
            ctx.register_tool_execution_intercept("async-ok", 0, async_guard)

    with pytest.raises(TypeError) as glob:
        guardrails.register_tool_sanitize_request("y", 0, async_guard)
    kinds("checked", Checked())
    await plugin.initialize({"components": [{"kind": "checked"}]})
    plugin.clear()
    assert sorted(seen) == sorted(["async guardrail", "async llm guardrail", "async request intercept",
                                   "priority type", "priority range", "name", "callable"])
    for key in ("async guardrail", "async llm guardrail", "async request intercept"):
        assert type(seen[key]) is TypeError
        assert str(seen[key]) == str(glob.value), key
    assert type(seen["priority type"]) is TypeError and "priority must be an int, not str" in str(seen["priority type"])
    assert type(seen["priority range"]) is ValueError and "32-bit" in str(seen["priority range"])
    assert type(seen["name"]) is TypeError and "name must be a str" in str(seen["name"])
    assert type(seen["callable"]) is TypeError and "must be callable" in str(seen["callable"])


def test_kind_numbers_come_from_the_native_registry():
    from nemo_relay import _kinds, _native

    names = {
        "SUBSCRIBER": "subscriber",
        "TOOL_SANITIZE_REQUEST": "tool sanitize-request guardrail",
        "TOOL_SANITIZE_RESPONSE": "tool sanitize-response guardrail",
        "TOOL_CONDITIONAL": "tool conditional-execution guardrail",
        "TOOL_REQUEST_INTERCEPT": "tool request intercept",
        "TOOL_EXECUTION": "tool execution intercept",
        "LLM_SANITIZE_REQUEST": "LLM sanitize-request guardrail",
        "LLM_SANITIZE_RESPONSE": "LLM sanitize-response guardrail",
        "LLM_CONDITIONAL": "LLM conditional-execution guardrail",
        "LLM_REQUEST_INTERCEPT": "LLM request intercept",
        "LLM_EXECUTION": "LLM execution intercept",
        "LLM_STREAM_EXECUTION": "LLM stream execution intercept",
    }
    assert sorted(_kinds.__all__) == sorted(names)
    for attr, described in names.items():
        kind = getattr(_kinds, attr)
        assert kind == getattr(_native, "MW_" + attr)
        _native._register(kind, None, "kind-probe", 0, False, lambda *a: None)
        try:
            assert [r["kind"] for r in _native._registrations() if r["name"] == "kind-probe"] == [described]
        finally:
            assert _native._deregister(kind, None, "kind-probe")


def test_register_errors(kinds):
    kinds("dup", Recording())
    with pytest.raises(errors.AlreadyExists, match="plugin 'dup' is already registered"):
        plugin.register("dup", Recording())
    with pytest.raises(TypeError, match="register"):
        plugin.register("no-register", object())  # type: ignore[arg-type]
    assert plugin.deregister("never") is False


async def test_discovery_is_opt_in(kinds, tmp_path, monkeypatch):
    kinds("found", Recording("found"))
    (tmp_path / "nemo-relay").mkdir()
    (tmp_path / "nemo-relay" / "plugins.toml").write_text('[[components]]\nkind = "found"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    await plugin.initialize({"components": []})
    assert tools.request_intercepts("t", {}) == {}
    with pytest.warns(RuntimeWarning, match="plugin configuration inherited from"):
        report = await plugin.initialize({"components": []}, discover=True)
    assert report["diagnostics"][0]["code"] == "plugin.configuration_inherited"
    assert tools.request_intercepts("t", {}) == {"found": True}


# ---- configuration changes from several threads ---------------------------------------
#
# A change waits for one running on another thread; that one needs the GIL to
# call its Python plugin, so the waiting thread must not hold it.  These run
# in a subprocess: the bug they guard against hangs the interpreter.

_SLOW_PLUGIN = """
import asyncio, sys, threading, time
from nemo_relay import _native, plugin

class Slow:
    def register(self, config, ctx):
        time.sleep(0.15)  # releases the GIL
        t = time.monotonic()
        while time.monotonic() - t < 0.15:  # holds it, handing it over now and then
            sum(range(1000))
        ctx.register_tool_request_intercept("mark", 0, False, lambda name, args: args)

plugin.register("slow", Slow())
config = {"version": 1, "components": [{"kind": "slow", "enabled": True, "config": {}}]}
"""


def _run_script(source: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-P", "-c", source], capture_output=True, text=True,
                          timeout=30)


def test_clear_waits_for_an_initialize_on_another_thread_without_deadlock():
    proc = _run_script(_SLOW_PLUGIN + """
before = _native._registration_count()
initialized = threading.Event()

def a():
    asyncio.run(plugin.initialize(config))
    initialized.set()

def b():
    time.sleep(0.1)  # A is inside register by now
    plugin.clear()

ta = threading.Thread(target=a, daemon=True)
tb = threading.Thread(target=b, daemon=True)
ta.start(); tb.start()
ta.join(20); tb.join(20)
assert not ta.is_alive() and not tb.is_alive(), "deadlock"
assert initialized.is_set()
# the clear ran after the initialize: nothing is left
assert plugin.report() is None
assert _native._registration_count() == before, _native._registration_count()
print("ok")
""")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_validate_during_an_initialize_on_another_thread_does_not_deadlock():
    proc = _run_script(_SLOW_PLUGIN + """
results = []

def a():
    asyncio.run(plugin.initialize(config))

def b():
    time.sleep(0.1)  # A is inside register by now
    results.append(plugin.validate(config))

ta = threading.Thread(target=a, daemon=True)
tb = threading.Thread(target=b, daemon=True)
ta.start(); tb.start()
ta.join(20); tb.join(20)
assert not ta.is_alive() and not tb.is_alive(), "deadlock"
assert results == [{"diagnostics": []}], results
plugin.clear()
print("ok")
""")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_interpreter_exit_waits_for_an_initialize_on_a_daemon_thread():
    proc = _run_script(_SLOW_PLUGIN + """
threading.Thread(target=lambda: asyncio.run(plugin.initialize(config)), daemon=True).start()
time.sleep(0.1)  # the thread is inside register; the atexit shutdown must wait for it
print("exiting")
""")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "exiting"
