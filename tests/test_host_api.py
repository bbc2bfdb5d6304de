"""The ABI v1 host table seen from the plugin side (reference/native-abi-v1.md
§1.6 strings, §1.7 last error, §1.10 host functions, §1.14 streams, §7 R1-R25;
SPEC D8).

fixtures/abi_probe.c is loaded like any native plugin; its extra probe_*
exports are then called through ctypes (dlopen of the same path returns the
loader's handle, so both sides share the probe's statics: the host table
pointer from the entry call and the counters).  The probe's middleware is
driven by a "probe" key in the tool args / LLM request content and reports
the statuses of the host calls it made back in the intercepted JSON.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import json
import threading
import weakref

import pytest

from conftest import write_manifest
from nemo_relay import LLMRequest, ScopeType, _native, errors, llm, plugin, scope, subscribers, tools

PROBE = "abi_probe"
ENTRY = "nemo_relay_abi_probe_plugin"
QUALIFIED = f"__nemo_relay_plugin__{PROBE}__"

# NemoRelayStatus
OK, ALREADY_EXISTS, NOT_FOUND, SCOPE_STACK_EMPTY, GUARDRAIL_REJECTED, INTERNAL = range(6)
NULL_POINTER, INVALID_JSON, INVALID_UTF8, INVALID_ARG, STREAM_END = range(6, 11)

# probe_string_new's *out_state
LEFT_UNTOUCHED, WROTE_NULL, SAME_BYTES, OTHER_BYTES = range(4)

# the probe's register steps (see the header of fixtures/abi_probe.c)
EXPECTED_REGISTER_STATUSES = [OK, INTERNAL, NULL_POINTER, NULL_POINTER, OK, OK, OK, OK]
EXPECTED_REGISTRATIONS = 5  # steps 0, 4, 5, 6 and 7


# ---- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def probe_library(tmp_path_factory):
    from _build import build_plugin

    out = tmp_path_factory.mktemp("abi-probe-lib")
    out.chmod(0o755)
    return build_plugin("fixtures/abi_probe.c", out, "abi_probe")


_LIBS: dict[str, ctypes.CDLL] = {}


def probe_handle(library) -> ctypes.CDLL:
    """ctypes view of the probe (one per library path; ctypes never closes it,
    so the probe's statics outlive the host's own reference)."""
    key = str(library)
    if key not in _LIBS:
        lib = ctypes.CDLL(key)
        for name in ("probe_entry_count", "probe_register_calls", "probe_registered_count",
                     "probe_free_count", "probe_free_anomalies", "probe_self_free_count",
                     "probe_stale_free_count", "probe_stale_drop_count", "probe_drop_count",
                     "probe_drop_anomalies", "probe_frees_before_drop", "probe_stream_drop_count",
                     "probe_stream_cancel_count", "probe_stream_anomalies", "probe_string_check_count"):
            getattr(lib, name).argtypes = []
            getattr(lib, name).restype = ctypes.c_int
        lib.probe_register_status.argtypes = [ctypes.c_int]
        lib.probe_register_status.restype = ctypes.c_int
        lib.probe_string_new.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int,
                                         ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_size_t)]
        lib.probe_string_new.restype = ctypes.c_int
        lib.probe_run_string_checks.argtypes = []
        lib.probe_run_string_checks.restype = ctypes.c_uint64
        lib.probe_string_check_name.argtypes = [ctypes.c_int]
        lib.probe_string_check_name.restype = ctypes.c_char_p
        lib.probe_thread_report.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        lib.probe_thread_report.restype = ctypes.c_int
        _LIBS[key] = lib
    return _LIBS[key]


def load_probe(plugin_dir, library):
    path = write_manifest(plugin_dir, PROBE, str(library), ENTRY)
    return plugin.load_native_plugins([plugin.NativePluginLoadSpec(PROBE, path)])


def initialize(config=None):
    component = {"kind": PROBE}
    if config is not None:
        component["config"] = config
    return asyncio.run(plugin.initialize({"components": [component]}))


@pytest.fixture
def probe(plugin_dir, probe_library):
    """The probe loaded (not initialized); yields its ctypes handle."""
    activation = load_probe(plugin_dir, probe_library)
    try:
        yield probe_handle(probe_library)
    finally:
        activation.close()


@pytest.fixture
def active(probe):
    """The probe loaded and initialized as one enabled component."""
    initialize()
    try:
        yield probe
    finally:
        # A failed async call leaves its exception in a reference cycle
        # (asyncio.run's Runner/Task -> traceback -> frames -> call state) that
        # keeps the call's middleware snapshot alive until the cycle collector
        # runs; collect now so every free_fn runs inside this test.
        gc.collect()
        plugin.clear()


def flushed(events):
    subscribers.flush()
    return events


def one(events, name, category=None):
    found = events.named(name, category)
    assert len(found) == 1, f"expected one {name!r} {category or ''} event, got {len(found)}"
    return found[0]


def string_new(lib, data, length=None, pass_out=True):
    state = ctypes.c_int(-1)
    out_len = ctypes.c_size_t(12345)
    if length is None:
        length = 0 if data is None else len(data)
    st = lib.probe_string_new(data, length, 1 if pass_out else 0, ctypes.byref(state), ctypes.byref(out_len))
    return st, state.value, out_len.value


# ---- 1. strings (§1.6) ---------------------------------------------------------------------


@pytest.mark.parametrize("data", [
    pytest.param(b"\x80", id="lone-continuation"),
    pytest.param(b"abc\xbf", id="continuation-after-ascii"),
    pytest.param(b"\xc0\xaf", id="overlong-2"),
    pytest.param(b"\xc1\xbf", id="overlong-2-max"),
    pytest.param(b"\xe0\x80\xaf", id="overlong-3"),
    pytest.param(b"\xf0\x80\x80\xaf", id="overlong-4"),
    pytest.param(b"\xed\xa0\x80", id="surrogate-high"),
    pytest.param(b"\xed\xbf\xbf", id="surrogate-low"),
    pytest.param(b"\xf4\x90\x80\x80", id="above-U+10FFFF"),
    pytest.param(b"\xf8\x88\x80\x80\x80", id="5-byte-form"),
    pytest.param(b"\xff", id="0xff"),
    pytest.param(b"\xe2\x82", id="truncated-3"),
    pytest.param(b"ok\xf0\x9f\x98", id="truncated-4-at-end"),
    pytest.param(b"\xc3\x28", id="bad-continuation"),
])
def test_string_new_rejects_invalid_utf8_and_writes_null(probe, data):
    st, state, length = string_new(probe, data)
    assert (st, state) == (INVALID_UTF8, WROTE_NULL)
    assert length == 0


@pytest.mark.parametrize("data", [
    pytest.param(b"plain ascii", id="ascii"),
    pytest.param("é".encode(), id="2-byte"),
    pytest.param("€".encode(), id="3-byte"),
    pytest.param("\U0001d11e".encode(), id="4-byte"),
    pytest.param(b"\xef\xbf\xbf", id="U+FFFF"),
    pytest.param(b"\xf4\x8f\xbf\xbf", id="U+10FFFF"),
    pytest.param(b"\xed\x9f\xbf", id="U+D7FF"),
    pytest.param(b"\xee\x80\x80", id="U+E000"),
    pytest.param("mixé€\U0001d11e".encode(), id="mixed"),
    pytest.param(b"a\x00b", id="embedded-nul"),
])
def test_string_new_accepts_valid_utf8_and_copies_it(probe, data):
    st, state, length = string_new(probe, data)
    assert (st, state, length) == (OK, SAME_BYTES, len(data))


def test_string_new_null_arguments(probe):
    # NULL out -> NullPointer (nothing to write)
    assert string_new(probe, b"abc", pass_out=False) == (NULL_POINTER, LEFT_UNTOUCHED, 0)
    # data NULL with a length -> NullPointer, and *out was reset to NULL first
    assert string_new(probe, None, length=5) == (NULL_POINTER, WROTE_NULL, 0)
    # (NULL, 0) is the valid empty string
    assert string_new(probe, None, length=0) == (OK, SAME_BYTES, 0)


def test_string_contract(probe):
    failed = probe.probe_run_string_checks()
    count = probe.probe_string_check_count()
    names = [probe.probe_string_check_name(i).decode() for i in range(count)]
    assert count == 16, names
    assert [n for i, n in enumerate(names) if failed >> i & 1] == []
    assert "string_data(NULL) == NULL" in names and "string_len(NULL) == 0" in names
    assert "copy: bytes unchanged after the source changed" in names


# ---- 2. last error (§1.7, R23) and status mapping (§1.2) --------------------------------------


def test_callback_last_error_is_the_error_message(active, events):
    called = []
    with pytest.raises(errors.RelayError) as info:
        tools.execute_sync("probe-tool", {"probe": "says_no"}, called.append)
    assert type(info.value) is errors.RelayError  # Internal -> no more specific kind
    assert str(info.value) == "probe says no"
    assert called == []
    guard = one(flushed(events), QUALIFIED + "probe_conditional", "end")
    assert guard.data == {"allowed": False, "error": "probe says no"}
    assert events.named("probe-tool") == []  # the call never started
    # the standalone chain reports the same
    with pytest.raises(errors.RelayError, match="^probe says no$"):
        tools.conditional_execution("probe-tool", {"probe": "says_no"})


@pytest.mark.parametrize("mode", ["null_error", "empty_error"])
def test_an_empty_last_error_means_no_message(active, mode):
    with pytest.raises(errors.RelayError) as info:
        tools.execute_sync("probe-tool", {"probe": mode}, lambda args: args)
    assert str(info.value) == "native conditional callback failed: Internal"


def test_a_failing_host_call_leaves_its_own_message(active):
    # string_new(invalid UTF-8) inside the callback; its status is returned as is
    with pytest.raises(errors.RelayError) as info:
        tools.execute_sync("probe-tool", {"probe": "host_error"}, lambda args: args)
    assert str(info.value) == "string_new received bytes that are not valid UTF-8"


@pytest.mark.parametrize("status, cls, prefix, name", [
    pytest.param(ALREADY_EXISTS, errors.AlreadyExists, "already exists: ", "AlreadyExists", id="AlreadyExists"),
    pytest.param(NOT_FOUND, errors.NotFoundError, "not found: ", "NotFound", id="NotFound"),
    pytest.param(GUARDRAIL_REJECTED, errors.GuardrailRejected, "guardrail rejected: ", "GuardrailRejected", id="GuardrailRejected"),
    pytest.param(INTERNAL, errors.RelayError, "", "Internal", id="Internal"),
    pytest.param(NULL_POINTER, errors.RelayError, "", "NullPointer", id="NullPointer"),
    pytest.param(INVALID_JSON, errors.RelayError, "", "InvalidJson", id="InvalidJson"),
    pytest.param(INVALID_UTF8, errors.RelayError, "", "InvalidUtf8", id="InvalidUtf8"),
    pytest.param(INVALID_ARG, ValueError, "invalid argument: ", "InvalidArg", id="InvalidArg"),
    pytest.param(STREAM_END, errors.RelayError, "", "StreamEnd", id="StreamEnd"),
    pytest.param(99, errors.RelayError, "", "Unknown", id="Unknown"),
])
def test_callback_status_maps_to_the_error_kind(active, status, cls, prefix, name):
    with pytest.raises(cls) as info:
        tools.conditional_execution("probe-tool", {"probe": "status", "status": status, "message": "from probe"})
    assert type(info.value) is cls
    assert str(info.value) == prefix + "from probe"
    with pytest.raises(cls) as info:
        tools.conditional_execution("probe-tool", {"probe": "status", "status": status})
    assert str(info.value) == f"{prefix}native conditional callback failed: {name}"


def test_conditional_reason_rejects(active):
    called = []
    with pytest.raises(errors.GuardrailRejected) as info:
        tools.execute_sync("probe-tool", {"probe": "reject"}, called.append)
    assert info.value.reason == "probe rejects"
    assert str(info.value) == "guardrail rejected: probe rejects"
    assert called == []


NOT_OWNED = "returned a string not made by string_new (a borrowed input must be copied)"


@pytest.mark.parametrize("mode, who", [
    pytest.param("reason_borrowed", "conditional callback", id="conditional-reason"),
    pytest.param("request_borrowed", "tool callback", id="request-intercept"),
    pytest.param("execution_borrowed", "tool execution intercept", id="execution-intercept"),
])
def test_a_borrowed_input_handed_back_is_reported_not_freed(active, mode, who):
    # The inputs are the host's views (stack records pointing at cached JSON):
    # freeing one would crash the process (free(): invalid size).
    called = []
    with pytest.raises(errors.RelayError) as info:
        tools.execute_sync("probe-tool", {"probe": mode}, called.append)
    assert type(info.value) is errors.RelayError
    assert str(info.value) == f"native {who} {NOT_OWNED}"
    assert called == []
    # nothing was corrupted: the same callbacks still work
    assert tools.execute_sync("probe-tool", {"x": 1}, lambda args: {"got": args}) == {"got": {"x": 1}}


def test_a_borrowed_input_left_behind_by_a_failing_callback_is_not_freed(active):
    with pytest.raises(errors.RelayError, match="^probe failed$"):
        tools.request_intercepts("probe-tool", {"probe": "request_fail_borrowed"})
    assert tools.request_intercepts("probe-tool", {"x": 1}) == {"x": 1}


def test_one_string_as_both_request_and_annotation_is_reported_and_freed_once(active):
    with pytest.raises(errors.RelayError,
                       match="returned one string as both the request and the annotation"):
        llm.request_intercepts("probe-llm", LLMRequest({}, {"probe": "same_string"}))
    request = llm.request_intercepts("probe-llm", LLMRequest({"h": "1"}, {"x": 1}))
    assert (request.headers, request.content) == ({"h": "1"}, {"x": 1})


# ---- 3. registration ownership (R4, D8) and teardown order (R1, R2) ---------------------------


def test_registration_statuses_and_ownership(plugin_dir, probe_library):
    before = _native._registration_count()
    activation = load_probe(plugin_dir, probe_library)
    lib = probe_handle(probe_library)
    try:
        assert lib.probe_register_calls() == 0
        initialize()
        try:
            assert lib.probe_register_calls() == 1
            assert [lib.probe_register_status(i) for i in range(len(EXPECTED_REGISTER_STATUSES))] == EXPECTED_REGISTER_STATUSES
            assert lib.probe_registered_count() == EXPECTED_REGISTRATIONS
            assert _native._registration_count() - before == EXPECTED_REGISTRATIONS
            # the duplicate, the NULL cb and the NULL ctx took nothing: the probe
            # released those three itself and the host never called their free_fn
            assert lib.probe_self_free_count() == 3
            assert lib.probe_free_count() == 0
            assert lib.probe_free_anomalies() == 0
            # the first registration under the duplicated name is the live one
            with pytest.raises(errors.RelayError, match="^probe says no$"):
                tools.conditional_execution("probe-tool", {"probe": "says_no"})
        finally:
            plugin.clear()
        # clear ran every successful registration's free_fn exactly once
        assert lib.probe_free_count() == EXPECTED_REGISTRATIONS
        assert lib.probe_free_anomalies() == 0
        assert _native._registration_count() == before
        assert lib.probe_drop_count() == 0  # the activation still holds the instance
    finally:
        activation.close()
    assert lib.probe_drop_count() == 1
    assert lib.probe_drop_anomalies() == 0
    assert lib.probe_frees_before_drop() == EXPECTED_REGISTRATIONS  # free_fns, then drop
    activation.close()  # idempotent
    assert lib.probe_drop_count() == 1


def test_failed_register_rolls_back_and_frees_once(probe):
    # register returns the duplicate's status with the host's message untouched
    with pytest.raises(errors.RegistrationFailed) as info:
        initialize({"fail_on_duplicate": True})
    assert str(info.value) == ("registration failed: tool conditional-execution guardrail "
                               f"'{QUALIFIED}probe_conditional' already exists")
    assert [probe.probe_register_status(i) for i in range(2)] == [OK, INTERNAL]
    assert probe.probe_registered_count() == 1
    assert probe.probe_free_count() == 1  # the rollback released the first one
    assert probe.probe_self_free_count() == 1  # the duplicate stayed the probe's
    assert probe.probe_free_anomalies() == 0
    assert plugin.report() is None


def test_closing_before_clearing_keeps_the_code_until_the_last_registration(plugin_dir, probe_library):
    activation = load_probe(plugin_dir, probe_library)
    lib = probe_handle(probe_library)
    try:
        initialize()
    except BaseException:
        activation.close()
        raise
    try:
        activation.close()  # wrong order on purpose (R3): the registrations keep the instance
        assert lib.probe_drop_count() == 0
        assert tools.request_intercepts("probe-tool", {"x": 1}) == {"x": 1}  # still callable
        assert lib.probe_free_count() == 0
    finally:
        plugin.clear()
    assert lib.probe_free_count() == EXPECTED_REGISTRATIONS
    assert lib.probe_drop_count() == 1
    assert lib.probe_frees_before_drop() == EXPECTED_REGISTRATIONS
    assert lib.probe_free_anomalies() == 0 and lib.probe_drop_anomalies() == 0


# ---- 4. an execution intercept rejecting ------------------------------------------------------


def test_execution_intercept_guardrail_rejection(active, events):
    called = []
    with pytest.raises(errors.GuardrailRejected) as info:
        tools.execute_sync("probe-tool", {"probe": "block"}, called.append)
    assert info.value.reason == "blocked by probe"
    assert str(info.value) == "guardrail rejected: blocked by probe"
    assert called == []
    end = one(flushed(events), "probe-tool", "end")
    assert end.metadata == {"otel.status_code": "ERROR",
                            "otel.status_description": "guardrail rejected: blocked by probe"}


def test_a_payload_handed_back_unchanged_changes_nothing(active, events):
    # the probe's request intercept copies the JSON it was given: the host's
    # printing and parsing around it must keep every number as it was
    from _exact import EDGE_NUMBERS, differences, same

    args = {"n": EDGE_NUMBERS, "big": 9007199254740993, "huge": 10**100, "one": 1.0}
    received = []
    result = tools.execute_sync("probe-tool", args, lambda a: received.append(a) or a)
    assert same(received, [args]), differences(received[0], args)
    assert same(result, args)
    start = one(flushed(events), "probe-tool", "start")
    assert same(start.data, args) and same(json.loads(start.to_json())["data"], args)


def test_execution_intercept_rejection_without_a_message(active):
    with pytest.raises(errors.GuardrailRejected) as info:
        tools.execute_sync("probe-tool", {"probe": "block_no_message"}, lambda args: args)
    assert info.value.reason == "native tool execution intercept failed: GuardrailRejected"


async def test_execution_intercept_rejection_async(active):
    with pytest.raises(errors.GuardrailRejected) as info:
        await tools.execute("probe-tool", {"probe": "block"}, lambda args: args)
    assert info.value.reason == "blocked by probe"
    # and the intercept passes through when not asked to block
    assert await tools.execute("probe-tool", {"x": 1}, lambda args: {"got": args}) == {"got": {"x": 1}}


# ---- 5. scopes and marks from a callback (§1.10) -----------------------------------------------


EXPECTED_SCOPE_STATUSES = {
    "get_current_null_out": NULL_POINTER,
    "get_current": OK,
    "push_null_out": NULL_POINTER,
    "push_bad_data": INVALID_JSON,
    "push_bad_data_out_null": True,
    "push_bad_metadata": INVALID_JSON,
    "push_bad_input": INVALID_JSON,
    "push_type_42": INVALID_ARG,
    "push_type_42_out_null": True,
    "push_type_minus_1": INVALID_ARG,
    "push_ts_too_big": INVALID_ARG,
    "push_ts_too_big_out_null": True,
    "push_ts_too_small": INVALID_ARG,
    "push_a": OK,
    "push_b": OK,
    "pop_not_top": INVALID_ARG,
    "pop_null": NULL_POINTER,
    "pop_bad_output": INVALID_JSON,
    "pop_bad_metadata": INVALID_JSON,
    "pop_ts_too_big": INVALID_ARG,
    "mark_bad_data": INVALID_JSON,
    "mark_bad_metadata": INVALID_JSON,
    "mark_ts_too_small": INVALID_ARG,
    "pop_b": OK,
    "pop_b_again": NOT_FOUND,
    "mark_after_pop": OK,
    "push_c_under_popped_b": OK,
    "pop_c": OK,
    "mark_null_name": OK,
    "pop_a": OK,
    "pop_a_again": NOT_FOUND,
    "stack_create": OK,
    "with_current_foreign": OK,
    "pop_unknown": NOT_FOUND,
    "pop_root": INVALID_ARG,
}


def test_scope_functions_from_a_callback(active, events):
    with scope.scope("probe-outer", ScopeType.Agent) as outer:
        result = tools.request_intercepts("probe-tool", {"probe": "scope_checks"})
        assert scope.get_handle() == outer  # the caller's stack is as it was
    assert result == {"probe": "scope_checks", "statuses": EXPECTED_SCOPE_STATUSES}
    flushed(events)
    # failed calls emitted nothing
    assert [e.name for e in events.events if e.name.startswith("probe.bad")] == []
    a_start, a_end = one(events, "probe.a", "start"), one(events, "probe.a", "end")
    b_start, b_end = one(events, "probe.b", "start"), one(events, "probe.b", "end")
    assert a_start.parent_uuid == outer.uuid and a_start.category == "function"
    assert a_start.data == {"step": "a"}  # start data = input; data_json is never emitted
    assert a_start.metadata == {"m": "a"}
    assert a_start.timestamp.startswith("2023-11-14T22:13:20")
    assert a_end.data == {"done": "a"} and a_end.metadata == {"m": "a2", "extra": 1}
    assert b_start.parent_uuid == a_start.uuid and b_start.category == "tool"
    assert b_start.attributes == ["parallel"]  # unknown attribute bits are dropped
    assert b_end.uuid == b_start.uuid and b_end.data == {"done": "b"}
    # a popped handle stays valid: as a mark's parent and a push's parent
    assert one(events, "probe.mark.after_pop").parent_uuid == b_start.uuid
    assert one(events, "probe.mark.after_pop").data == {"popped": True}
    assert one(events, "probe.c", "start").parent_uuid == b_start.uuid
    # a NULL mark name reads as ""
    assert one(events, "").parent_uuid == a_start.uuid
    # order on the caller's stack
    names = [(e.name, getattr(e, "scope_category", None)) for e in events.events
             if e.name.startswith("probe.") or e.name == ""]
    assert names == [("probe.a", "start"), ("probe.b", "start"), ("probe.b", "end"),
                     ("probe.mark.after_pop", None), ("probe.c", "start"), ("probe.c", "end"),
                     ("", None), ("probe.a", "end")]


@pytest.mark.parametrize("op, cls, message", [
    ("bad_data", errors.RelayError, "scope data is not valid JSON"),
    ("bad_metadata", errors.RelayError, "scope metadata is not valid JSON"),
    ("bad_input", errors.RelayError, "scope input is not valid JSON"),
    ("mark_bad_data", errors.RelayError, "mark data is not valid JSON"),
    ("bad_type", ValueError, "invalid argument: invalid scope type 42"),
    ("bad_ts", ValueError, "invalid argument: timestamp unix microseconds are outside supported range"),
    ("pop_null", errors.RelayError, "scope_pop received a null pointer"),
    ("pop_not_top", ValueError, "invalid argument: scope handle is not at the top of the stack"),
    ("pop_unknown", errors.NotFoundError, "not found: scope handle not found"),
    ("pop_root", ValueError, "invalid argument: root scope cannot be removed"),
], ids=["bad_data", "bad_metadata", "bad_input", "mark_bad_data", "bad_type", "bad_ts", "pop_null",
        "pop_not_top", "pop_unknown", "pop_root"])
def test_scope_function_failures_leave_their_message(active, op, cls, message):
    with scope.scope("probe-outer", ScopeType.Agent) as outer:
        with pytest.raises(cls) as info:
            tools.request_intercepts("probe-tool", {"probe": "scope_fail", "op": op})
        assert scope.get_handle() == outer
    assert type(info.value) is cls
    assert str(info.value).startswith(message)


def test_timestamps_at_the_edges_of_the_range(active, events):
    result = tools.request_intercepts("probe-tool", {"probe": "timestamps"})
    assert set(result["statuses"].values()) == {OK}
    flushed(events)
    assert one(events, "probe.ts.min", "start").timestamp == "0001-01-01T00:00:00.000000+00:00"
    assert one(events, "probe.ts.min", "end").timestamp == "0001-01-01T00:00:00.000000+00:00"
    # an explicit end timestamp is used verbatim, even before the start
    assert one(events, "probe.ts.valid", "start").timestamp == "2023-11-14T22:13:20.000000+00:00"
    assert one(events, "probe.ts.valid", "end").timestamp == "2023-11-14T22:13:19.000000+00:00"
    assert one(events, "probe.ts.mark").timestamp == "2023-11-14T22:13:20.000000+00:00"
    assert one(events, "probe.ts.max", "start").timestamp == "9999-12-31T23:59:59.999999+00:00"


# An end bumped past a start at the very top of the range is clamped to it,
# never wrapped around.
def test_end_timestamp_after_a_start_at_the_top_of_the_range(active, events):
    tools.request_intercepts("probe-tool", {"probe": "timestamps"})
    flushed(events)
    start = one(events, "probe.ts.max", "start")
    end = one(events, "probe.ts.max", "end")
    assert not end.timestamp.startswith("0000-")
    assert end.timestamp >= start.timestamp  # same fixed-width format: string order is time order


# ---- 6. scope_stack_with_current (§1.10, R13) --------------------------------------------------


def test_with_current_restores_the_callers_stack(active, events):
    with scope.scope("probe-outer", ScopeType.Agent) as outer:
        result = tools.request_intercepts("probe-tool", {"probe": "with_current"})
        assert scope.get_handle() == outer
    assert result["statuses"] == {
        "get_current_before": OK,
        "mark_before": OK,
        "stack_create": OK,
        "with_current_null_stack": NULL_POINTER,
        "with_current_null_cb": NULL_POINTER,
        "with_current_failing": INVALID_ARG,  # the callback's status, unchanged
        "active_inside": True,
        "inside": OK,
        "get_current_after": OK,
        "mark_after": OK,
        "mark_after_implicit": OK,
        "with_current_nested": OK,
        "nested_inner": OK,
        "mark_after_nested": OK,
    }
    flushed(events)
    assert one(events, "probe.wc.before").parent_uuid == outer.uuid
    inside = one(events, "probe.wc.inside")
    left_open = one(events, "probe.wc.left_open", "start")
    assert inside.parent_uuid != outer.uuid  # the isolated stack's root
    assert left_open.parent_uuid == inside.parent_uuid
    # after the failing callback: scope_get_current is the caller's scope again
    assert one(events, "probe.wc.after").parent_uuid == outer.uuid
    assert one(events, "probe.wc.after_implicit").parent_uuid == outer.uuid
    # nesting: the inner stack is visible only inside; then the outer override
    # (with the scope left open on it) is back; then the caller's stack
    inner = one(events, "probe.wc.nested.inner")
    assert inner.parent_uuid not in (outer.uuid, left_open.uuid, inside.parent_uuid)
    assert one(events, "probe.wc.nested.outer").parent_uuid == left_open.uuid
    assert one(events, "probe.wc.after_nested").parent_uuid == outer.uuid
    assert events.named("probe.wc.left_open", "end") == []


@pytest.mark.parametrize("args, cls, message", [
    ({}, ValueError, "invalid argument: native scope-stack callback returned InvalidArg"),
    ({"status": INTERNAL}, errors.RelayError, "native scope-stack callback returned Internal"),
    ({"status": NOT_FOUND}, errors.NotFoundError, "not found: native scope-stack callback returned NotFound"),
    ({"status": INTERNAL, "message": "probe inner failure"}, errors.RelayError, "probe inner failure"),
], ids=["no-message-InvalidArg", "no-message-Internal", "no-message-NotFound", "callback-message"])
def test_with_current_failure_message(active, events, args, cls, message):
    with scope.scope("probe-outer", ScopeType.Agent) as outer:
        with pytest.raises(cls) as info:
            tools.request_intercepts("probe-tool", {"probe": "with_current_fail", **args})
        assert scope.get_handle() == outer  # restored on the failure path too
    assert type(info.value) is cls
    assert str(info.value) == message
    assert one(flushed(events), "probe.wc.inside").parent_uuid != outer.uuid


# ---- 7. stream tables (§1.14, R8) --------------------------------------------------------------


async def _stream(mode, *, chunks=None, take=None):
    called = []

    async def func(request):
        called.append(request)
        yield {"from_func": True}

    collected = []
    content = {"probe": mode} if chunks is None else {"probe": mode, "chunks": chunks}
    stream = await llm.stream_execute("probe-llm", LLMRequest({}, content), func, collected.append,
                                      lambda: list(collected))
    got = []
    try:
        async for chunk in stream:
            got.append(chunk)
            if take is not None and len(got) == take:
                break
    finally:
        await stream.aclose()
    return got, called


@pytest.mark.parametrize("mode, message", [
    ("bad_size", "unsupported native LLM stream struct size 16"),
    ("no_next", "native LLM stream has no next function"),
    ("fail_table", "probe stream refused"),
], ids=["bad_size", "no_next", "fail_table"])
def test_rejected_stream_table_is_dropped_once(active, events, mode, message):
    with pytest.raises(errors.RelayError) as info:
        asyncio.run(_stream(mode))
    assert str(info.value) == message
    assert active.probe_stream_drop_count() == 1
    assert active.probe_stream_cancel_count() == 0
    assert active.probe_stream_anomalies() == 0  # out_stream was pre-set to the default table
    end = one(flushed(events), "probe-llm", "end")
    assert end.metadata["otel.status_code"] == "ERROR"
    assert events.named("llm.chunk") == []


def test_probe_stream_is_polled_to_the_end_then_dropped_once(active, events):
    got, called = asyncio.run(_stream("own_stream", chunks=3))
    assert got == [{"probe_chunk": 1}, {"probe_chunk": 2}, {"probe_chunk": 3}]
    assert called == []  # the probe never called next
    assert active.probe_stream_drop_count() == 1
    assert active.probe_stream_cancel_count() == 0  # finished streams are not cancelled
    assert active.probe_stream_anomalies() == 0
    assert len(flushed(events).named("llm.chunk")) == 3


def test_abandoned_probe_stream_is_cancelled_then_dropped_once(active):
    got, _ = asyncio.run(_stream("own_stream", chunks=5, take=1))
    assert got == [{"probe_chunk": 1}]
    assert active.probe_stream_cancel_count() == 1
    assert active.probe_stream_drop_count() == 1
    assert active.probe_stream_anomalies() == 0


def test_host_stream_passed_through(active):
    async def run():
        async def func(request):
            yield {"n": 1, "content": request.content}
            yield {"n": 2}

        stream = await llm.stream_execute("probe-llm", LLMRequest({}, {"plain": True}), func,
                                          lambda chunk: None, lambda: None)
        return [c async for c in stream]

    assert asyncio.run(run()) == [{"n": 1, "content": {"plain": True}}, {"n": 2}]
    assert active.probe_stream_drop_count() == 0  # the host's own table, dropped by the host


def test_entry_resets_the_probe_between_loads(plugin_dir, probe_library):
    lib = probe_handle(probe_library)
    entries = lib.probe_entry_count()
    with load_probe(plugin_dir, probe_library):
        assert lib.probe_entry_count() == entries + 1
        assert lib.probe_drop_count() == 0 and lib.probe_free_count() == 0
    assert lib.probe_drop_count() == 1
    assert plugin.list_kinds() == []


# ---- 8. plugin threads (reference §5.5, SPEC D2, D3, D5) -------------------------------------
#
# The probe does its work on a pthread of its own, joined before its callback
# returns (next_ctx is valid until the intercept returns, so calling next from
# there is legal).  probe_thread_report tells what that thread saw; thread ids
# are strings of threading.get_ident() values (CPython's ident is the
# pthread_t).


def thread_report(lib) -> dict:
    buf = ctypes.create_string_buffer(4096)
    n = lib.probe_thread_report(buf, len(buf))
    assert n > 0, "the probe wrote no thread report"
    return json.loads(buf.value.decode())


class Body:
    """The tool function: records the thread and the current scope it sees,
    emits "body-mark", returns {"got": args}."""

    def __init__(self, is_async: bool) -> None:
        self.is_async = is_async
        self.seen: list[tuple[int, scope.ScopeHandle]] = []

    def _run(self, args):
        self.seen.append((threading.get_ident(), scope.get_handle()))
        scope.event("body-mark")
        return {"got": args}

    def func(self):
        if not self.is_async:
            return self._run

        async def body(args):
            return self._run(args)

        return body


def run_tool(how: str, args: dict, body: Body):
    """Runs the probe tool inside `with scope.scope("caller")`; returns
    (caller handle, result, current handle after the call, caller's thread)."""
    if how == "sync":
        with scope.scope("caller", ScopeType.Agent) as caller:
            result = tools.execute_sync("probe-tool", args, body.func())
            after = scope.get_handle()
        return caller, result, after, threading.get_ident()

    async def main():
        with scope.scope("caller", ScopeType.Agent) as caller:
            result = await tools.execute("probe-tool", args, body.func())
            after = scope.get_handle()
        return caller, result, after, threading.get_ident()

    return asyncio.run(main())


HOW = [
    pytest.param("sync", False, id="execute_sync"),
    pytest.param("async", False, id="execute-sync-body"),
    pytest.param("async", True, id="execute-async-body"),
]


def check_threads(how, report, body, caller_thread):
    """Where things ran: execute_sync runs the intercept on the calling thread,
    await tools.execute on a worker (D5); next ran on the probe's thread, and
    a sync tool body with it; an async body runs on the caller's loop."""
    assert report["pthread"] == 0
    thread, intercept = report["thread"], report["intercept_thread"]
    assert thread != intercept
    assert thread != str(caller_thread)
    if how == "sync":
        assert intercept == str(caller_thread)
    else:
        assert intercept != str(caller_thread)
    [(body_thread, _)] = body.seen
    assert str(body_thread) == (str(caller_thread) if body.is_async else thread)


@pytest.mark.parametrize("how, is_async", HOW)
def test_next_from_a_plugin_thread_runs_under_the_callers_stack(active, events, how, is_async):
    body = Body(is_async)
    args = {"probe": "next_on_thread", "x": 1}
    caller, result, after, caller_thread = run_tool(how, args, body)
    assert result == {"got": args}
    assert after == caller  # the caller's chain is as it was
    report = thread_report(active)
    assert report == {
        "mode": "next_on_thread",
        "intercept_thread": report["intercept_thread"],
        "intercept_active": True,   # the intercept sees the caller's frame
        "thread": report["thread"],
        "active_before": False,     # the probe's thread has no stack of its own
        "next": OK,
        "active_after_next": False,  # next put nothing on the thread
        "pthread": 0,
    }
    check_threads(how, report, body, caller_thread)
    flushed(events)
    # the rest of the chain ran under the caller's stack, on the probe's thread
    assert one(events, "body-mark").parent_uuid == caller.uuid
    [(_, seen)] = body.seen
    assert seen == caller
    assert one(events, "probe-tool", "start").parent_uuid == caller.uuid
    assert one(events, "probe-tool", "end").data == {"got": args}


@pytest.mark.parametrize("how, is_async", HOW)
def test_a_push_on_a_plugin_thread_without_a_stack_stays_off_the_chain(active, events, how, is_async):
    # The probe's thread chose no stack: its push lands on the thread's lazily
    # created default stack (not explicit, so scope_stack_active() stays
    # false) and next still runs under the caller's stack, not under the push.
    body = Body(is_async)
    args = {"probe": "next_on_thread_pushed"}
    caller, result, after, caller_thread = run_tool(how, args, body)
    assert result == {"got": args}
    assert after == caller
    report = thread_report(active)
    assert report == {
        "mode": "next_on_thread_pushed",
        "intercept_thread": report["intercept_thread"],
        "intercept_active": True,
        "thread": report["thread"],
        "active_before": False,
        "push": OK,
        "active_after_push": False,  # a default stack is not a choice
        "next": OK,
        "active_after_next": False,
        "pop": OK,  # the pushed scope was still on top of the thread's stack
        "pthread": 0,
    }
    check_threads(how, report, body, caller_thread)
    flushed(events)
    pushed_start = one(events, "plugin-thread-scope", "start")
    pushed_end = one(events, "plugin-thread-scope", "end")
    mark = one(events, "body-mark")
    assert mark.parent_uuid == caller.uuid
    assert mark.parent_uuid != pushed_start.uuid
    [(_, seen)] = body.seen
    assert seen == caller
    # the push went under the thread's default root, not under the caller
    assert pushed_start.parent_uuid not in (caller.uuid, one(events, "probe-tool", "start").uuid)
    assert pushed_end.uuid == pushed_start.uuid
    order = [e.name for e in events.events if e.name in ("plugin-thread-scope", "body-mark")]
    assert order == ["plugin-thread-scope", "body-mark", "plugin-thread-scope"]


@pytest.mark.parametrize("how, is_async", HOW)
def test_next_from_a_plugin_thread_with_its_own_stack(active, events, how, is_async):
    # The probe's thread binds a stack of its own and pushes on it before
    # calling next: the thread chose a stack, so its choice wins.
    body = Body(is_async)
    args = {"probe": "next_on_thread_own"}
    caller, result, after, caller_thread = run_tool(how, args, body)
    assert result == {"got": args}
    assert after == caller  # popped, restored and freed: the caller's chain is intact
    report = thread_report(active)
    assert report == {
        "mode": "next_on_thread_own",
        "intercept_thread": report["intercept_thread"],
        "intercept_active": True,
        "thread": report["thread"],
        "active_before": False,
        "capture": OK,
        "create": OK,
        "set_thread": OK,
        "active_after_bind": True,
        "push": OK,
        "active_after_push": True,
        "next": OK,
        "active_after_next": True,
        "pop": OK,  # next left the thread's own stack as it was
        "restore": OK,
        "active_after_restore": False,  # back to no binding
        "pthread": 0,
    }
    check_threads(how, report, body, caller_thread)
    flushed(events)
    own_start = one(events, "plugin-own-scope", "start")
    assert one(events, "plugin-own-scope", "end").uuid == own_start.uuid
    assert own_start.parent_uuid != caller.uuid  # the new stack's own root
    assert one(events, "body-mark").parent_uuid == own_start.uuid
    [(_, seen)] = body.seen
    assert seen.uuid == own_start.uuid and seen.name == "plugin-own-scope"
    # the call itself still belongs to the caller
    assert one(events, "probe-tool", "start").parent_uuid == caller.uuid
    assert one(events, "probe-tool", "end").parent_uuid == caller.uuid


@pytest.mark.parametrize("via", ["request_intercepts", "execute_sync"])
def test_subscriber_on_a_plugin_thread_sees_that_threads_binding(active, events, via):
    # D3/D4: a subscriber runs inline on the emitting thread, and Python code
    # called from a plugin's own thread sees that thread's binding.
    seen = []

    def subscriber(event):
        if event.name == "from-plugin-thread":
            h = scope.get_handle()
            seen.append((h.name, h.uuid, threading.get_ident()))

    name = "probe-thread-subscriber"
    subscribers.register(name, subscriber)
    try:
        args = {"probe": "thread_mark"}
        with scope.scope("caller", ScopeType.Agent) as caller:
            if via == "request_intercepts":
                assert tools.request_intercepts("probe-tool", args) == args
            else:
                assert tools.execute_sync("probe-tool", args, lambda a: {"got": a}) == {"got": args}
            assert scope.get_handle() == caller
    finally:
        assert subscribers.deregister(name)
    report = thread_report(active)
    assert report == {
        "mode": "thread_mark",
        "intercept_thread": str(threading.get_ident()),
        "thread": report["thread"],
        "active_before": False,
        "capture": OK,
        "create": OK,
        "set_thread": OK,
        "active_after_bind": True,
        "push": OK,
        "mark": OK,
        "pop": OK,
        "restore": OK,
        "active_after_restore": False,
        "pthread": 0,
    }
    flushed(events)
    outer = one(events, "plugin-thread-outer", "start")
    assert outer.parent_uuid != caller.uuid  # the thread's own stack
    assert one(events, "from-plugin-thread").parent_uuid == outer.uuid
    assert seen == [("plugin-thread-outer", outer.uuid, int(report["thread"]))]
    assert report["thread"] != report["intercept_thread"]


class _Marker:
    pass


def _failing_body(refs):
    def body(args):
        local = _Marker()  # kept alive only by this frame (and so by the exception's traceback)
        refs.append(weakref.ref(local))
        raise ValueError("body failed")

    return body


def test_next_failing_on_a_plugin_thread(active, events):
    # The tool body raises while the rest of the chain runs on the probe's
    # thread.  next reports the failure to that thread (status + its last
    # error); the probe returns the status with a last error of its own on the
    # intercept's thread, and that is what the caller sees (§1.7: the last
    # error is per thread).
    refs = []
    with scope.scope("caller", ScopeType.Agent) as caller:
        with pytest.raises(errors.RelayError) as info:
            tools.execute_sync("probe-tool", {"probe": "next_on_thread"}, _failing_body(refs))
        assert scope.get_handle() == caller
    assert type(info.value) is errors.RelayError
    assert str(info.value) == "probe: next failed on the probe's thread"
    report = thread_report(active)
    assert (report["next"], report["active_after_next"]) == (INTERNAL, False)
    end = one(flushed(events), "probe-tool", "end")
    assert end.metadata == {"otel.status_code": "ERROR",
                            "otel.status_description": "probe: next failed on the probe's thread"}
    # control: the same failure with next called inline frees the body's frame
    inline = []
    with pytest.raises(ValueError, match="^body failed$"):
        tools.execute_sync("probe-tool", {"x": 1}, _failing_body(inline))
    gc.collect()
    assert inline[0]() is None


# A failed next on a plugin's own thread keeps nothing alive once reported.
def test_next_failing_on_a_plugin_thread_releases_the_exception(active):
    refs = []
    with pytest.raises(errors.RelayError, match="^probe: next failed on the probe's thread$"):
        tools.execute_sync("probe-tool", {"probe": "next_on_thread"}, _failing_body(refs))
    assert thread_report(active)["next"] == INTERNAL
    gc.collect()
    assert refs[0]() is None, "the body's frame (via its exception) is still alive"


# ---- 2b. failures without a last error: the host's fallback text ---------------------------


def test_register_failure_without_a_message(probe):
    with pytest.raises(errors.RegistrationFailed) as info:
        initialize({"fail_silently": True})
    assert str(info.value) == f"registration failed: native register callback for '{PROBE}' returned Internal"
    assert plugin.report() is None


def test_validate_failure_without_a_message(probe):
    report = plugin.validate({"components": [{"kind": PROBE, "config": {"validate": "fail_silently"}}]})
    assert report == {"diagnostics": [{"level": "error", "code": "plugin.native_validate_failed",
                                       "component": PROBE,
                                       "message": "native validate callback returned Internal"}]}
    with pytest.raises(errors.InvalidConfig) as info:
        initialize({"validate": "fail_silently"})
    assert str(info.value) == "invalid config: native validate callback returned Internal"
    assert plugin.report() is None


def test_validate_handing_back_its_borrowed_config(probe):
    # the config is lent as a view of the printed JSON: handing it back is
    # reported (it used to be an owned copy, freed before the result was read)
    report = plugin.validate({"components": [{"kind": PROBE, "config": {"validate": "borrowed"}}]})
    assert report == {"diagnostics": [{"level": "error", "code": "plugin.native_validate_failed",
                                       "component": PROBE,
                                       "message": f"native validate callback {NOT_OWNED}"}]}


def test_names_with_a_nul_byte_are_refused(probe, events):
    probe.probe_nul_names.argtypes = [ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]
    push, mark = ctypes.c_int(-1), ctypes.c_int(-1)
    top = scope.get_handle()
    probe.probe_nul_names(ctypes.byref(push), ctypes.byref(mark))
    invalid_arg = 9  # NEMO_RELAY_STATUS_INVALID_ARG: a C copy of "a\0b" would read "a"
    assert (push.value, mark.value) == (invalid_arg, invalid_arg)
    assert events.events == [] and scope.get_handle() == top
