/*
 * py_middleware.c -- Python guardrails and intercepts: registration, the
 * trampolines the runtime calls, and the standalone chains and manual calls
 * of tools.* / llm.*.
 *
 * Guardrails and request intercepts are synchronous (an awaitable result is a
 * TypeError).  Guardrails receive private copies of payloads, so they can
 * never change what the function receives or the caller gets back (SPEC D6).
 */
#include "py_annotated.h"
#include "py_bridge.h"
#include "py_call.h"
#include "py_callbacks.h"
#include "py_codecs.h"
#include "py_convert.h"
#include "py_llm_request.h"
#include "py_scope.h"

#include "nr_call.h"
#include "nr_codec.h"

#include <string.h>

/* Calls cb with args on behalf of the runtime; on failure captures the
 * exception into err and returns NULL.  Steals every args[i] (NULL ones, a
 * failed conversion with its exception set, make the call fail); returns a
 * new reference. */
static PyObject *call_py(nr_py_cb *cb, const nr_call_info *ci, PyObject **args, size_t nargs,
                         nr_error *err)
{
    PyObject *r = NULL;
    bool ok = true;
    for (size_t i = 0; i < nargs; i++)
        ok = ok && args[i] != NULL;
    if (ok)
        r = nr_py_invoke_sync(ci != NULL ? ci->env : NULL, cb->callable, args, nargs);
    for (size_t i = 0; i < nargs; i++)
        Py_XDECREF(args[i]);
    if (r == NULL)
        nr_py_capture_exception(err, NULL);
    return r;
}

/* A guardrail's private copy of v (new reference; v borrowed). */
static PyObject *guard_copy(nr_value *v)
{
    PyObject *obj = nr_py_value_to_py(v);
    if (obj == NULL || nr_value_foreign(v, &nr_py_value_ops) == NULL)
        return obj; /* converted from JSON: already a private copy */
    PyObject *copy = nr_py_json_copy(obj);
    Py_DECREF(obj);
    return copy;
}

/* The call's name as str (new reference): the caller's own object when the
 * call is managed from Python. */
static PyObject *name_str(const nr_call_info *ci)
{
    nr_py_env *env = ci != NULL ? ci->env : NULL;
    if (env != NULL && env->state != NULL)
        return Py_NewRef(((CallStateObject *)env->state)->name);
    return PyUnicode_FromString(ci != NULL && ci->name != NULL ? ci->name : "");
}

/* A callback's result r as *out (new value): an LLMRequest, or checked JSON.
 * Steals r; NULL r means call_py already captured the failure into err. */
static NemoRelayStatus finish_value(PyObject *r, bool llm_request, nr_value **out, nr_error *err)
{
    if (r == NULL)
        return err != NULL ? err->status : NEMO_RELAY_STATUS_INTERNAL;
    if (llm_request && !nr_py_is_llm_request(r))
        PyErr_Format(PyExc_TypeError, "expected an LLMRequest, got %.100s", Py_TYPE(r)->tp_name);
    else
        *out = llm_request ? nr_py_value_wrap(r) : nr_py_value_checked(r);
    Py_DECREF(r);
    if (*out == NULL)
        return nr_py_capture_exception(err, NULL);
    return NEMO_RELAY_STATUS_OK;
}

/* tool sanitize-request/response and tool request intercepts */
static NemoRelayStatus tool_transform(void *ud, const nr_call_info *ci, nr_value *in,
                                      nr_value **out, nr_error *err, bool copy)
{
    *out = NULL;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *args[2] = {name_str(ci), copy ? guard_copy(in) : nr_py_value_to_py(in)};
    NemoRelayStatus st = finish_value(call_py(ud, ci, args, 2, err), false, out, err);
    PyGILState_Release(g);
    return st;
}

static NemoRelayStatus tool_sanitize_tr(void *ud, const nr_call_info *ci, nr_value *in,
                                        nr_value **out, nr_error *err)
{
    return tool_transform(ud, ci, in, out, err, true);
}

static NemoRelayStatus tool_request_tr(void *ud, const nr_call_info *ci, nr_value *in,
                                       nr_value **out, nr_error *err)
{
    return tool_transform(ud, ci, in, out, err, false);
}

static NemoRelayStatus llm_sanitize_request_tr(void *ud, const nr_call_info *ci, nr_value *in,
                                               nr_value **out, nr_error *err)
{
    *out = NULL;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *args[1] = {nr_py_llm_request_from_value(in, "LLM request")};
    NemoRelayStatus st = finish_value(call_py(ud, ci, args, 1, err), true, out, err);
    PyGILState_Release(g);
    return st;
}

static NemoRelayStatus llm_sanitize_response_tr(void *ud, const nr_call_info *ci, nr_value *in,
                                                nr_value **out, nr_error *err)
{
    *out = NULL;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *args[1] = {guard_copy(in)};
    NemoRelayStatus st = finish_value(call_py(ud, ci, args, 1, err), false, out, err);
    PyGILState_Release(g);
    return st;
}

/* A conditional guardrail's result r: None allows, a str rejects
 * (*out_reason, malloc'd, owned by the caller).  Steals r; NULL r means
 * call_py already captured the failure into err. */
static NemoRelayStatus reason_of(PyObject *r, char **out_reason, nr_error *err)
{
    if (r == NULL)
        return err != NULL ? err->status : NEMO_RELAY_STATUS_INTERNAL;
    NemoRelayStatus st = NEMO_RELAY_STATUS_OK;
    if (PyUnicode_Check(r)) {
        const char *s;
        if (nr_py_req_str(r, "conditional execution guardrail reason", &s) < 0 ||
            (*out_reason = nr_strdup(s)) == NULL)
            st = nr_py_capture_exception(err, NULL);
    } else if (r != Py_None) {
        PyErr_Format(PyExc_TypeError,
                     "conditional execution guardrail expected str or None, got %.100s",
                     Py_TYPE(r)->tp_name);
        st = nr_py_capture_exception(err, NULL);
    }
    Py_DECREF(r);
    return st;
}

static NemoRelayStatus tool_conditional_tr(void *ud, const nr_call_info *ci, nr_value *in,
                                           char **out_reason, nr_error *err)
{
    *out_reason = NULL;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *args[2] = {name_str(ci), guard_copy(in)};
    NemoRelayStatus st = reason_of(call_py(ud, ci, args, 2, err), out_reason, err);
    PyGILState_Release(g);
    return st;
}

static NemoRelayStatus llm_conditional_tr(void *ud, const nr_call_info *ci, nr_value *in,
                                          char **out_reason, nr_error *err)
{
    *out_reason = NULL;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *args[1] = {nr_py_llm_request_from_value(in, "LLM request")};
    NemoRelayStatus st = reason_of(call_py(ud, ci, args, 1, err), out_reason, err);
    PyGILState_Release(g);
    return st;
}

/* The annotation a Python request intercept receives: an
 * AnnotatedLLMRequest when it has that shape (a codec's), else the plain
 * JSON value (a native plugin's own annotation), else None. */
static PyObject *annotated_for_python(nr_value *annotated)
{
    if (annotated == NULL)
        return Py_NewRef(Py_None);
    const cJSON *j = nr_value_json(annotated, NULL);
    if (j != NULL && nr_annotated_request_check(j, NULL))
        return nr_py_annotated_request_wrap(cJSON_Duplicate(j, true));
    return nr_py_value_to_py(annotated);
}

/* fn(name, request, annotated) -> (LLMRequest, annotated | None) */
static NemoRelayStatus llm_request_tr(void *ud, const nr_call_info *ci, nr_value *request,
                                      nr_value *annotated, nr_value **out_request,
                                      nr_value **out_annotated, nr_error *err)
{
    *out_request = NULL;
    *out_annotated = NULL;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *args[3] = {name_str(ci), nr_py_llm_request_from_value(request, "LLM request"),
                         annotated_for_python(annotated)};
    PyObject *r = call_py(ud, ci, args, 3, err);
    NemoRelayStatus st = err != NULL ? err->status : NEMO_RELAY_STATUS_INTERNAL;
    if (r != NULL) {
        PyObject *req = NULL, *ann = NULL;
        if (PySequence_Check(r) && PySequence_Size(r) == 2) {
            req = PySequence_GetItem(r, 0);
            ann = req != NULL ? PySequence_GetItem(r, 1) : NULL;
        }
        if (ann == NULL && !PyErr_Occurred())
            PyErr_Format(PyExc_TypeError,
                         "LLM request intercept must return (LLMRequest, annotated or None), "
                         "got %.100s",
                         Py_TYPE(r)->tp_name);
        if (ann != NULL && (st = finish_value(Py_NewRef(req), true, out_request, err)) ==
                               NEMO_RELAY_STATUS_OK) {
            if (ann != Py_None && nr_py_is_annotated_request(ann)) {
                cJSON *aj = cJSON_Duplicate(nr_py_annotated_json(ann), true);
                if (aj == NULL || (*out_annotated = nr_value_from_json(aj)) == NULL)
                    st = nr_error_nomem(err);
            } else if (ann != Py_None) {
                st = finish_value(Py_NewRef(ann), false, out_annotated, err);
            }
            if (st != NEMO_RELAY_STATUS_OK) {
                nr_value_release(*out_request);
                *out_request = NULL;
            }
        } else if (ann == NULL) {
            st = nr_py_capture_exception(err, NULL);
        }
        Py_XDECREF(req);
        Py_XDECREF(ann);
        Py_DECREF(r);
    }
    PyGILState_Release(g);
    return st;
}

nr_callback_fn nr_py_trampoline_for(nr_mw_kind kind)
{
    nr_callback_fn fn = {0};
    switch (kind) {
    case NR_MW_SUBSCRIBER: fn.subscriber = nr_py_subscriber_cb; break;
    case NR_MW_TOOL_SANITIZE_REQUEST:
    case NR_MW_TOOL_SANITIZE_RESPONSE: fn.transform = tool_sanitize_tr; break;
    case NR_MW_TOOL_CONDITIONAL: fn.conditional = tool_conditional_tr; break;
    case NR_MW_TOOL_REQUEST_INTERCEPT: fn.transform = tool_request_tr; break;
    case NR_MW_TOOL_EXECUTION:
    case NR_MW_LLM_EXECUTION: fn.execution = nr_py_exec_trampoline; break;
    case NR_MW_LLM_SANITIZE_REQUEST: fn.transform = llm_sanitize_request_tr; break;
    case NR_MW_LLM_SANITIZE_RESPONSE: fn.transform = llm_sanitize_response_tr; break;
    case NR_MW_LLM_CONDITIONAL: fn.conditional = llm_conditional_tr; break;
    case NR_MW_LLM_REQUEST_INTERCEPT: fn.llm_intercept = llm_request_tr; break;
    case NR_MW_LLM_STREAM_EXECUTION: fn.stream_execution = nr_py_stream_exec_trampoline; break;
    default: break;
    }
    return fn;
}

/* ---- registration ------------------------------------------------------------------ */

static int parse_kind(PyObject *obj, nr_mw_kind *kind)
{
    long k = PyLong_AsLong(obj);
    if (k == -1 && PyErr_Occurred())
        return -1;
    if (k < 0 || k >= NR_MW_KIND_COUNT) {
        PyErr_Format(PyExc_ValueError, "unknown middleware kind %ld", k);
        return -1;
    }
    *kind = (nr_mw_kind)k;
    return 0;
}

/* register(kind, scope_handle_or_None, name, priority, break_chain, callback) */
static PyObject *py_register(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "_register takes 6 arguments");
        return NULL;
    }
    nr_mw_kind kind;
    const nr_uuid *scope;
    if (parse_kind(args[0], &kind) < 0 || nr_py_opt_parent(args[1], "scope_handle", &scope) < 0)
        return NULL;
    int brk = PyObject_IsTrue(args[4]);
    if (brk < 0)
        return NULL;
    return nr_py_register(PyModule_GetState(mod), kind, scope, args[2], args[3], brk != 0,
                          args[5]);
}

/* deregister(kind, scope_handle_or_None, name) -> bool */
static PyObject *py_deregister(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "_deregister takes 3 arguments");
        return NULL;
    }
    nr_mw_kind kind;
    const nr_uuid *scope;
    if (parse_kind(args[0], &kind) < 0 || nr_py_opt_parent(args[1], "scope_handle", &scope) < 0)
        return NULL;
    return nr_py_deregister(PyModule_GetState(mod), kind, scope, args[2]);
}

/* ---- standalone chains --------------------------------------------------------------- */

static int chain_input(nr_call_kind kind, PyObject *obj, nr_value **out)
{
    if (kind == NR_CALL_LLM && !nr_py_is_llm_request(obj)) {
        PyErr_Format(PyExc_TypeError, "request must be an LLMRequest, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    if (kind == NR_CALL_TOOL && nr_py_check_json(obj) < 0)
        return -1;
    *out = nr_py_value_wrap(obj);
    return *out == NULL ? -1 : 0;
}

/* (kind, name, input) -> input after the request intercepts */
static PyObject *run_request_intercepts(nr_py_state *st, nr_call_kind kind, const char *name,
                                        PyObject *input_obj)
{
    nr_value *input;
    if (chain_input(kind, input_obj, &input) < 0)
        return NULL;
    nr_py_frame f;
    if (nr_py_frame_enter(st, &f) < 0) {
        nr_value_release(input);
        return NULL;
    }
    nr_value *out = NULL, *ann = NULL;
    nr_error err = NR_ERROR_INIT;
    PyThreadState *ts = nr_py_native_begin();
    NemoRelayStatus status = nr_run_request_intercepts(kind, name, input, NULL, &out, &ann, &err);
    nr_py_native_end(ts);
    nr_py_frame_exit(st, &f, NULL);
    nr_value_release(input);
    nr_value_release(ann);
    PyObject *r = status == NEMO_RELAY_STATUS_OK ? nr_py_call_input(kind, out) : nr_py_raise(&err);
    nr_value_release(out);
    return r;
}

static PyObject *run_conditionals(nr_py_state *st, nr_call_kind kind, const char *name,
                                  PyObject *input_obj)
{
    nr_value *input;
    if (chain_input(kind, input_obj, &input) < 0)
        return NULL;
    nr_py_frame f;
    if (nr_py_frame_enter(st, &f) < 0) {
        nr_value_release(input);
        return NULL;
    }
    nr_error err = NR_ERROR_INIT;
    PyThreadState *ts = nr_py_native_begin();
    NemoRelayStatus status = nr_run_conditionals(kind, name, input, NULL, &err);
    nr_py_native_end(ts);
    nr_py_frame_exit(st, &f, NULL);
    nr_value_release(input);
    if (status != NEMO_RELAY_STATUS_OK)
        return nr_py_raise(&err);
    Py_RETURN_NONE;
}

static PyObject *tool_request_intercepts(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    const char *name;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "request_intercepts(name, args) takes 2 arguments");
        return NULL;
    }
    if (nr_py_req_str(args[0], "tool name", &name) < 0)
        return NULL;
    return run_request_intercepts(PyModule_GetState(mod), NR_CALL_TOOL, name, args[1]);
}

static PyObject *llm_request_intercepts(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    const char *name;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "request_intercepts(name, request) takes 2 arguments");
        return NULL;
    }
    if (nr_py_req_str(args[0], "LLM name", &name) < 0)
        return NULL;
    return run_request_intercepts(PyModule_GetState(mod), NR_CALL_LLM, name, args[1]);
}

static PyObject *tool_conditional_execution(PyObject *mod, PyObject *const *args,
                                            Py_ssize_t nargs)
{
    const char *name;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "conditional_execution(name, args) takes 2 arguments");
        return NULL;
    }
    if (nr_py_req_str(args[0], "tool name", &name) < 0)
        return NULL;
    return run_conditionals(PyModule_GetState(mod), NR_CALL_TOOL, name, args[1]);
}

static PyObject *llm_conditional_execution(PyObject *mod, PyObject *request)
{
    return run_conditionals(PyModule_GetState(mod), NR_CALL_LLM, "", request);
}

/* ---- manual calls ---------------------------------------------------------------------- */

static PyObject *manual_call(nr_call_kind kind, PyObject *mod, PyObject *const *args,
                             Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const tool_names[] = {"name",     "args",         "handle",    "attributes",
                                             "data",     "metadata",     "tool_call_id",
                                             "timestamp", NULL};
    static const char *const llm_names[] = {"name", "request", "handle", "attributes", "data",
                                            "metadata", "model_name", "timestamp", "codec", NULL};
    nr_py_state *st = PyModule_GetState(mod);
    PyObject *v[9] = {NULL};
    if (nr_py_parse_args("call", args, nargs, kwnames, kind == NR_CALL_TOOL ? tool_names : llm_names,
                         2, 2, v) < 0)
        return NULL;
    nr_call_spec spec = {.kind = kind};
    nr_value *input = NULL, *data = NULL, *metadata = NULL;
    const char *extra;
    bool has_ts;
    int64_t ts;
    PyObject *result = NULL;
    nr_py_codecs codecs;
    memset(&codecs, 0, sizeof codecs);
    if (nr_py_req_str(v[0], kind == NR_CALL_TOOL ? "tool name" : "LLM name", &spec.name) < 0)
        return NULL;
    if (kind == NR_CALL_LLM && nr_py_codecs_set(&codecs, v[8], NULL) < 0)
        return NULL;
    spec.codec = nr_py_codecs_request(&codecs);
    if (chain_input(kind, v[1], &input) < 0 || nr_py_opt_parent(v[2], "handle", &spec.parent) < 0 ||
        nr_py_flags(v[3], kind == NR_CALL_TOOL ? NR_FAMILY_TOOL : NR_FAMILY_LLM,
                    &spec.attributes) < 0 ||
        nr_py_opt_value(v[4], &data) < 0 ||
        nr_py_opt_value(v[5], &metadata) < 0 ||
        nr_py_opt_str(v[6], kind == NR_CALL_TOOL ? "tool_call_id" : "model_name", &extra) < 0 ||
        nr_py_timestamp(v[7], &ts, &has_ts) < 0)
        goto done;
    spec.input = input;
    spec.data = data;
    spec.metadata = metadata;
    if (kind == NR_CALL_TOOL)
        spec.tool_call_id = extra;
    else
        spec.model_name = extra;
    nr_py_frame f;
    if (nr_py_frame_enter(st, &f) < 0)
        goto done;
    nr_error err = NR_ERROR_INIT;
    nr_scope *handle = NULL;
    PyThreadState *tstate = nr_py_native_begin();
    NemoRelayStatus status = nr_call_start_manual(&spec, has_ts ? &ts : NULL, &handle, &err);
    nr_py_native_end(tstate);
    nr_py_frame_exit(st, &f, NULL);
    if (status != NEMO_RELAY_STATUS_OK) {
        nr_py_raise(&err);
        goto done;
    }
    result = nr_py_handle_for(handle);
    nr_scope_release(handle);
done:
    nr_py_codecs_clear(&codecs);
    nr_value_release(input);
    nr_value_release(data);
    nr_value_release(metadata);
    return result;
}

/* annotated_response= of call_end: an AnnotatedLLMResponse or a dict of
 * that shape. */
static int annotated_response_value(PyObject *obj, nr_value **out)
{
    cJSON *j = nr_py_annotated_response_tree(obj, "annotated_response");
    if (j == NULL)
        return -1;
    if ((*out = nr_value_from_json(j)) == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static PyObject *manual_call_end(nr_call_kind kind, PyObject *mod, PyObject *const *args,
                                 Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const tool_names[] = {"handle", "result", "data", "metadata", "timestamp",
                                             NULL};
    static const char *const llm_names[] = {"handle",   "response", "data", "metadata",
                                            "annotated_response", "timestamp",
                                            "response_codec", NULL};
    nr_py_state *st = PyModule_GetState(mod);
    PyObject *v[7] = {NULL};
    if (nr_py_parse_args("call_end", args, nargs, kwnames,
                         kind == NR_CALL_TOOL ? tool_names : llm_names, 2, 2, v) < 0)
        return NULL;
    PyObject *ts_obj = kind == NR_CALL_TOOL ? v[4] : v[5];
    PyObject *ann_obj = kind == NR_CALL_LLM ? v[4] : NULL;
    nr_scope *handle = nr_py_handle_node(v[0], "handle");
    if (handle == NULL)
        return NULL;
    if (handle->family != (kind == NR_CALL_TOOL ? NR_FAMILY_TOOL : NR_FAMILY_LLM)) {
        PyErr_Format(PyExc_TypeError, "handle must be a %s, not %.100s",
                     kind == NR_CALL_TOOL ? "ToolHandle" : "LLMHandle", Py_TYPE(v[0])->tp_name);
        return NULL;
    }
    nr_value *result = NULL, *data = NULL, *metadata = NULL, *ann = NULL;
    bool has_ts;
    int64_t ts;
    PyObject *ret = NULL;
    nr_py_codecs codecs;
    memset(&codecs, 0, sizeof codecs);
    if (nr_py_check_json(v[1]) < 0 || (result = nr_py_value_wrap(v[1])) == NULL ||
        nr_py_opt_value(v[2], &data) < 0 || nr_py_opt_value(v[3], &metadata) < 0 ||
        (ann_obj != NULL && ann_obj != Py_None && annotated_response_value(ann_obj, &ann) < 0) ||
        nr_py_timestamp(ts_obj, &ts, &has_ts) < 0 ||
        (kind == NR_CALL_LLM && nr_py_codecs_set(&codecs, NULL, v[6]) < 0))
        goto done;
    nr_py_frame f;
    if (nr_py_frame_enter(st, &f) < 0)
        goto done;
    nr_error err = NR_ERROR_INIT;
    PyThreadState *tstate = nr_py_native_begin();
    NemoRelayStatus status = nr_call_end_manual(handle, result, data, metadata, ann,
                                                nr_py_codecs_response(&codecs),
                                                has_ts ? &ts : NULL, NULL, &err);
    nr_py_native_end(tstate);
    nr_py_frame_exit(st, &f, NULL);
    if (status != NEMO_RELAY_STATUS_OK)
        nr_py_raise(&err);
    else
        ret = Py_NewRef(Py_None);
done:
    nr_py_codecs_clear(&codecs);
    nr_value_release(result);
    nr_value_release(data);
    nr_value_release(metadata);
    nr_value_release(ann);
    return ret;
}

static PyObject *tool_call(PyObject *mod, PyObject *const *a, Py_ssize_t n, PyObject *kw)
{
    return manual_call(NR_CALL_TOOL, mod, a, n, kw);
}

static PyObject *llm_call(PyObject *mod, PyObject *const *a, Py_ssize_t n, PyObject *kw)
{
    return manual_call(NR_CALL_LLM, mod, a, n, kw);
}

static PyObject *tool_call_end(PyObject *mod, PyObject *const *a, Py_ssize_t n, PyObject *kw)
{
    return manual_call_end(NR_CALL_TOOL, mod, a, n, kw);
}

static PyObject *llm_call_end(PyObject *mod, PyObject *const *a, Py_ssize_t n, PyObject *kw)
{
    return manual_call_end(NR_CALL_LLM, mod, a, n, kw);
}

static PyObject *llm_request_new(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    (void)mod;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "_llm_request(headers, content)");
        return NULL;
    }
    return nr_py_llm_request_new(args[0], args[1]);
}

#define FASTCALL(fn) (PyCFunction)(void (*)(void))(fn)

static PyMethodDef middleware_methods[] = {
    {"_register", FASTCALL(py_register), METH_FASTCALL,
     "_register(kind, scope_handle, name, priority, break_chain, callback)"},
    {"_deregister", FASTCALL(py_deregister), METH_FASTCALL,
     "_deregister(kind, scope_handle, name) -> bool"},
    {"tool_request_intercepts", FASTCALL(tool_request_intercepts), METH_FASTCALL,
     "request_intercepts(name, args) -> args after the tool request intercepts"},
    {"llm_request_intercepts", FASTCALL(llm_request_intercepts), METH_FASTCALL,
     "request_intercepts(name, request) -> LLMRequest after the LLM request intercepts"},
    {"tool_conditional_execution", FASTCALL(tool_conditional_execution), METH_FASTCALL,
     "conditional_execution(name, args) -> None; raises GuardrailRejected"},
    {"llm_conditional_execution", llm_conditional_execution, METH_O,
     "conditional_execution(request) -> None; raises GuardrailRejected"},
    {"tool_call", FASTCALL(tool_call), METH_FASTCALL | METH_KEYWORDS,
     "call(name, args, *, handle=None, attributes=None, data=None, metadata=None, "
     "tool_call_id=None, timestamp=None) -> ToolHandle"},
    {"tool_call_end", FASTCALL(tool_call_end), METH_FASTCALL | METH_KEYWORDS,
     "call_end(handle, result, *, data=None, metadata=None, timestamp=None) -> None"},
    {"llm_call", FASTCALL(llm_call), METH_FASTCALL | METH_KEYWORDS,
     "call(name, request, *, handle=None, attributes=None, data=None, metadata=None, "
     "model_name=None, timestamp=None, codec=None) -> LLMHandle"},
    {"llm_call_end", FASTCALL(llm_call_end), METH_FASTCALL | METH_KEYWORDS,
     "call_end(handle, response, *, data=None, metadata=None, annotated_response=None, "
     "timestamp=None, response_codec=None) -> None"},
    {"_llm_request", FASTCALL(llm_request_new), METH_FASTCALL, NULL},
    {NULL, NULL, 0, NULL},
};

int nr_py_middleware_init(PyObject *module)
{
#define KIND(k) {"MW_" #k, NR_MW_##k}
    static const struct {
        const char *name;
        nr_mw_kind kind;
    } kinds[] = {
        KIND(SUBSCRIBER),           KIND(TOOL_SANITIZE_REQUEST), KIND(TOOL_SANITIZE_RESPONSE),
        KIND(TOOL_CONDITIONAL),     KIND(TOOL_REQUEST_INTERCEPT), KIND(TOOL_EXECUTION),
        KIND(LLM_SANITIZE_REQUEST), KIND(LLM_SANITIZE_RESPONSE), KIND(LLM_CONDITIONAL),
        KIND(LLM_REQUEST_INTERCEPT), KIND(LLM_EXECUTION),       KIND(LLM_STREAM_EXECUTION),
    };
#undef KIND
    _Static_assert(sizeof kinds / sizeof kinds[0] == NR_MW_KIND_COUNT, "a kind is not exported");
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (PyModule_AddIntConstant(module, kinds[i].name, kinds[i].kind) < 0)
            return -1;
    }
    return PyModule_AddFunctions(module, middleware_methods);
}
