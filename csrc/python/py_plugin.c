/*
 * py_plugin.c -- the plugin system from Python: configuration (validate,
 * initialize, clear, report, kinds), Python-defined plugins and their
 * PluginContext, and native plugins (manifest checks, loading, activations).
 */
#include "py_bridge.h"
#include "py_call.h"
#include "py_callbacks.h"
#include "py_convert.h"
#include "py_export_queue.h"
#include "py_scope.h"

#include "elf_check.h"
#include "manifest.h"
#include "native_loader.h"
#include "nr_plugin.h"
#include "nr_runtime.h"

#include <stdlib.h>
#include <string.h>

/* cJSON result -> Python, deleting it (NULL -> None). */
static PyObject *take_json_obj(cJSON *j)
{
    PyObject *r = nr_py_from_cjson(j);
    cJSON_Delete(j);
    return r;
}

static cJSON *config_arg(PyObject *obj)
{
    if (!PyDict_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "plugin config must be a dict, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return NULL;
    }
    return nr_py_to_cjson(obj);
}

static int lease_arg(PyObject *obj, nr_plugin_lease *out)
{
    *out = NR_PLUGIN_NO_LEASE;
    if (obj == NULL || obj == Py_None)
        return 0;
    unsigned long v = PyLong_AsUnsignedLong(obj);
    if (v == (unsigned long)-1 && PyErr_Occurred())
        return -1;
    *out = v;
    return 0;
}

/* ---- configuration ------------------------------------------------------------ */

static PyObject *plugin_validate(PyObject *mod, PyObject *config)
{
    (void)mod;
    cJSON *doc = config_arg(config);
    if (doc == NULL)
        return NULL;
    cJSON *report = NULL;
    nr_error err = NR_ERROR_INIT;
    /* Always without the GIL: see plugin_initialize (the runtime may make a
     * validation wait for a configuration change). */
    PyThreadState *ts = PyEval_SaveThread();
    NemoRelayStatus st = nr_plugin_validate(doc, &report, &err);
    PyEval_RestoreThread(ts);
    cJSON_Delete(doc);
    return st == NEMO_RELAY_STATUS_OK ? take_json_obj(report) : nr_py_raise(&err);
}

/* plugin_initialize(config, lease=None) -> report */
static PyObject *plugin_initialize(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "plugin_initialize(config, lease=None)");
        return NULL;
    }
    nr_py_state *st = PyModule_GetState(mod);
    nr_plugin_lease lease;
    if (lease_arg(nargs > 1 ? args[1] : NULL, &lease) < 0)
        return NULL;
    cJSON *doc = config_arg(args[0]);
    if (doc == NULL)
        return NULL;
    cJSON *report = NULL;
    nr_error err = NR_ERROR_INIT;
    nr_py_frame f;
    if (nr_py_frame_enter(st, &f) < 0) {
        cJSON_Delete(doc);
        return NULL;
    }
    /* Always without the GIL: the change may wait for another thread's, which
     * needs the GIL to run a Python plugin's validate/register (and the same
     * for clear, validate and the atexit shutdown). */
    PyThreadState *ts = PyEval_SaveThread();
    NemoRelayStatus status = nr_plugin_initialize(doc, lease, &report, &err);
    PyEval_RestoreThread(ts);
    nr_py_frame_exit(st, &f, NULL);
    cJSON_Delete(doc);
    return status == NEMO_RELAY_STATUS_OK ? take_json_obj(report) : nr_py_raise(&err);
}

static PyObject *plugin_clear(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    (void)mod;
    nr_plugin_lease lease;
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "plugin_clear(lease=None)");
        return NULL;
    }
    if (lease_arg(nargs > 0 ? args[0] : NULL, &lease) < 0)
        return NULL;
    nr_error err = NR_ERROR_INIT;
    /* Always without the GIL: see plugin_initialize. */
    PyThreadState *ts = PyEval_SaveThread();
    NemoRelayStatus st = nr_plugin_clear(lease, &err);
    PyEval_RestoreThread(ts);
    if (st != NEMO_RELAY_STATUS_OK)
        return nr_py_raise(&err);
    Py_RETURN_NONE;
}

static PyObject *plugin_report(PyObject *mod, PyObject *unused)
{
    (void)mod;
    (void)unused;
    return take_json_obj(nr_plugin_report());
}

static PyObject *plugin_list_kinds(PyObject *mod, PyObject *unused)
{
    (void)mod;
    (void)unused;
    cJSON *kinds = nr_plugin_list_kinds();
    if (kinds == NULL)
        return PyErr_NoMemory();
    return take_json_obj(kinds);
}

static PyObject *plugin_lease_acquire(PyObject *mod, PyObject *unused)
{
    (void)mod;
    (void)unused;
    nr_plugin_lease lease;
    nr_error err = NR_ERROR_INIT;
    if (nr_plugin_lease_acquire(&lease, &err) != NEMO_RELAY_STATUS_OK)
        return nr_py_raise(&err);
    return PyLong_FromUnsignedLong(lease);
}

static PyObject *plugin_lease_release(PyObject *mod, PyObject *arg)
{
    (void)mod;
    nr_plugin_lease lease;
    if (lease_arg(arg, &lease) < 0)
        return NULL;
    nr_plugin_lease_release(lease);
    Py_RETURN_NONE;
}

/* ---- PluginContext: registrations of a Python plugin ---------------------------- */

typedef struct {
    PyObject_HEAD
    nr_plugin_ctx *ctx; /* NULL once register has returned */
} PluginContextObject;


static PyObject *ctx_register(PluginContextObject *self, nr_mw_kind kind, PyObject *name,
                              PyObject *priority, bool break_chain, PyObject *callback)
{
    if (self->ctx == NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "this PluginContext is no longer valid: register only inside "
                        "Plugin.register");
        return NULL;
    }
    nr_callback_spec spec;
    if (nr_py_callback_spec(kind, name, priority, break_chain, callback, &spec) < 0)
        return NULL;
    nr_error err = NR_ERROR_INIT;
    if (nr_plugin_ctx_register(self->ctx, &spec, &err) != NEMO_RELAY_STATUS_OK) {
        nr_py_cb_free(spec.user_data); /* a failed registration took nothing */
        return nr_py_raise(&err);
    }
    Py_RETURN_NONE;
}

#define CTX_METHOD(fname, kind)                                                           \
    static PyObject *fname(PluginContextObject *self, PyObject *const *args,             \
                           Py_ssize_t nargs)                                              \
    {                                                                                     \
        if (nargs != 3) {                                                                 \
            PyErr_SetString(PyExc_TypeError, #fname "(name, priority, callback)");        \
            return NULL;                                                                  \
        }                                                                                 \
        return ctx_register(self, kind, args[0], args[1], false, args[2]);                \
    }

CTX_METHOD(register_tool_sanitize_request_guardrail, NR_MW_TOOL_SANITIZE_REQUEST)
CTX_METHOD(register_tool_sanitize_response_guardrail, NR_MW_TOOL_SANITIZE_RESPONSE)
CTX_METHOD(register_tool_conditional_execution_guardrail, NR_MW_TOOL_CONDITIONAL)
CTX_METHOD(register_tool_execution_intercept, NR_MW_TOOL_EXECUTION)
CTX_METHOD(register_llm_sanitize_request_guardrail, NR_MW_LLM_SANITIZE_REQUEST)
CTX_METHOD(register_llm_sanitize_response_guardrail, NR_MW_LLM_SANITIZE_RESPONSE)
CTX_METHOD(register_llm_conditional_execution_guardrail, NR_MW_LLM_CONDITIONAL)
CTX_METHOD(register_llm_execution_intercept, NR_MW_LLM_EXECUTION)
CTX_METHOD(register_llm_stream_execution_intercept, NR_MW_LLM_STREAM_EXECUTION)

static PyObject *register_subscriber(PluginContextObject *self, PyObject *const *args,
                                     Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "register_subscriber(name, callback)");
        return NULL;
    }
    if (self->ctx != NULL) {
        /* an exporter's EventQueue registers as plain C (no Python per event) */
        nr_callback_spec spec = {0};
        if (nr_py_export_queue_spec(args[1], &spec)) {
            const char *name;
            if (nr_py_req_str(args[0], "name", &name) < 0) {
                spec.free_fn(spec.user_data);
                return NULL;
            }
            spec.kind = NR_MW_SUBSCRIBER;
            spec.name = name;
            nr_error err = NR_ERROR_INIT;
            if (nr_plugin_ctx_register(self->ctx, &spec, &err) != NEMO_RELAY_STATUS_OK) {
                spec.free_fn(spec.user_data); /* a failed registration took nothing */
                return nr_py_raise(&err);
            }
            Py_RETURN_NONE;
        }
    }
    return ctx_register(self, NR_MW_SUBSCRIBER, args[0], NULL, false, args[1]);
}

static PyObject *request_intercept(PluginContextObject *self, nr_mw_kind kind,
                                   PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "register_*_request_intercept(name, priority, "
                                         "break_chain, callback)");
        return NULL;
    }
    int brk = PyObject_IsTrue(args[2]);
    return brk < 0 ? NULL : ctx_register(self, kind, args[0], args[1], brk != 0, args[3]);
}

static PyObject *register_tool_request_intercept(PluginContextObject *self, PyObject *const *args,
                                                 Py_ssize_t nargs)
{
    return request_intercept(self, NR_MW_TOOL_REQUEST_INTERCEPT, args, nargs);
}

static PyObject *register_llm_request_intercept(PluginContextObject *self, PyObject *const *args,
                                                Py_ssize_t nargs)
{
    return request_intercept(self, NR_MW_LLM_REQUEST_INTERCEPT, args, nargs);
}

static PyObject *ctx_get_namespace(PluginContextObject *self, void *c)
{
    (void)c;
    if (self->ctx == NULL)
        Py_RETURN_NONE;
    return PyUnicode_FromString(nr_plugin_ctx_namespace(self->ctx));
}

#define M(name) {#name, (PyCFunction)(void (*)(void))name, METH_FASTCALL, NULL}
static PyMethodDef ctx_methods[] = {
    M(register_subscriber),
    M(register_tool_sanitize_request_guardrail),
    M(register_tool_sanitize_response_guardrail),
    M(register_tool_conditional_execution_guardrail),
    M(register_tool_request_intercept),
    M(register_tool_execution_intercept),
    M(register_llm_sanitize_request_guardrail),
    M(register_llm_sanitize_response_guardrail),
    M(register_llm_conditional_execution_guardrail),
    M(register_llm_request_intercept),
    M(register_llm_execution_intercept),
    M(register_llm_stream_execution_intercept),
    {NULL, NULL, 0, NULL},
};
#undef M

static PyGetSetDef ctx_getset[] = {
    {"namespace", (getter)ctx_get_namespace, NULL,
     "The prefix the runtime gives this component's registration names.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static void ctx_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyType_Slot ctx_slots[] = {
    {Py_tp_dealloc, ctx_dealloc},
    {Py_tp_methods, ctx_methods},
    {Py_tp_getset, ctx_getset},
    {Py_tp_doc, "Registers a plugin component's middleware (valid during register only)."},
    {0, NULL},
};

static PyType_Spec ctx_spec = {"nemo_relay.plugin.PluginContext", sizeof(PluginContextObject), 0,
                               Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, ctx_slots};

/* ---- Python-defined plugins -------------------------------------------------------------- */

/* Converts a list of diagnostic dicts into the array. */
static int append_diagnostics(PyObject *result, cJSON *diags)
{
    if (result == Py_None)
        return 0;
    PyObject *seq = PySequence_Fast(result, "validate must return a list of diagnostics or None");
    if (seq == NULL)
        return -1;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        PyObject *d = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyDict_Check(d) || PyDict_GetItemString(d, "level") == NULL ||
            PyDict_GetItemString(d, "code") == NULL || PyDict_GetItemString(d, "message") == NULL) {
            PyErr_SetString(PyExc_TypeError,
                            "each diagnostic must be a dict with level, code and message");
            Py_DECREF(seq);
            return -1;
        }
        cJSON *j = nr_py_to_cjson(d);
        if (j == NULL || !cJSON_AddItemToArray(diags, j)) {
            cJSON_Delete(j);
            Py_DECREF(seq);
            return -1;
        }
    }
    Py_DECREF(seq);
    return 0;
}

static NemoRelayStatus failure_from_exception(nr_errkind kind, const char *what, const char *pkind,
                                              nr_error *err)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    PyObject *s;
    const char *text = nr_py_exc_text(value, &s);
    NemoRelayStatus st = nr_error_set(err, kind, "plugin '%s' %s raised %s: %s", pkind, what,
                                      type != NULL ? ((PyTypeObject *)type)->tp_name : "?", text);
    Py_XDECREF(s);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return st;
}

static NemoRelayStatus py_plugin_validate(void *ud, const char *kind, const cJSON *config,
                                          cJSON *diagnostics, nr_error *err)
{
    PyGILState_STATE g = PyGILState_Ensure();
    NemoRelayStatus st = NEMO_RELAY_STATUS_OK;
    PyObject *plugin = ud;
    PyObject *meth = PyObject_GetAttrString(plugin, "validate");
    if (meth == NULL) {
        PyErr_Clear(); /* validate is optional */
        goto done;
    }
    PyObject *cfg = nr_py_from_cjson(config);
    PyObject *r = cfg != NULL ? PyObject_CallOneArg(meth, cfg) : NULL;
    Py_XDECREF(cfg);
    Py_DECREF(meth);
    if (r == NULL || append_diagnostics(r, diagnostics) < 0)
        st = failure_from_exception(NR_E_CALLBACK, "validate", kind, err);
    Py_XDECREF(r);
done:
    PyGILState_Release(g);
    return st;
}

static NemoRelayStatus py_plugin_register(void *ud, const char *kind, const cJSON *config,
                                          nr_plugin_ctx *ctx, nr_error *err)
{
    PyGILState_STATE g = PyGILState_Ensure();
    NemoRelayStatus st = NEMO_RELAY_STATUS_OK;
    PyObject *plugin = ud;
    PluginContextObject *pctx = PyObject_New(PluginContextObject, nr_py_get_state()->PluginContext_Type);
    PyObject *cfg = pctx != NULL ? nr_py_from_cjson(config) : NULL;
    PyObject *r = NULL;
    if (cfg != NULL) {
        pctx->ctx = ctx;
        r = PyObject_CallMethod(plugin, "register", "OO", cfg, (PyObject *)pctx);
        pctx->ctx = NULL; /* a context kept by the plugin is dead from here on */
    }
    if (r == NULL)
        st = failure_from_exception(NR_E_REGISTRATION_FAILED, "register", kind, err);
    Py_XDECREF(r);
    Py_XDECREF(cfg);
    Py_XDECREF(pctx);
    PyGILState_Release(g);
    return st;
}

static void py_plugin_release(void *ud)
{
    if (!nr_py_alive())
        return;
    PyGILState_STATE g = PyGILState_Ensure();
    Py_DECREF((PyObject *)ud);
    PyGILState_Release(g);
}

static const nr_plugin_ops py_plugin_ops = {py_plugin_validate, py_plugin_register,
                                            py_plugin_release, "plugin.validate_failed"};

static PyObject *plugin_register(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    (void)mod;
    const char *kind;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "register(plugin_kind, plugin)");
        return NULL;
    }
    if (nr_py_req_str(args[0], "plugin_kind", &kind) < 0)
        return NULL;
    PyObject *reg = PyObject_GetAttrString(args[1], "register");
    if (reg == NULL || !PyCallable_Check(reg)) {
        Py_XDECREF(reg);
        PyErr_Clear();
        PyErr_SetString(PyExc_TypeError, "a plugin needs a register(config, context) method");
        return NULL;
    }
    Py_DECREF(reg);
    int multiple = 1;
    PyObject *flag = PyObject_GetAttrString(args[1], "allows_multiple_components");
    if (flag == NULL)
        PyErr_Clear();
    else {
        multiple = PyObject_IsTrue(flag);
        Py_DECREF(flag);
        if (multiple < 0)
            return NULL;
    }
    nr_error err = NR_ERROR_INIT;
    if (nr_plugin_register_kind(kind, multiple != 0, &py_plugin_ops, Py_NewRef(args[1]), &err) !=
        NEMO_RELAY_STATUS_OK) {
        Py_DECREF(args[1]); /* not taken */
        return nr_py_raise(&err);
    }
    Py_RETURN_NONE;
}

static PyObject *plugin_deregister(PyObject *mod, PyObject *kind)
{
    (void)mod;
    const char *k;
    if (nr_py_req_str(kind, "plugin_kind", &k) < 0)
        return NULL;
    PyThreadState *ts = nr_py_native_begin();
    bool found = nr_plugin_deregister_kind(k);
    nr_py_native_end(ts);
    return PyBool_FromLong(found);
}

/* ---- manifests ------------------------------------------------------------------------------ */

static PyObject *resolve_manifest(PyObject *mod, PyObject *ref)
{
    (void)mod;
    PyObject *path = PyOS_FSPath(ref);
    if (path == NULL)
        return NULL;
    const char *p = NULL;
    if (!PyUnicode_Check(path) || nr_py_req_str(path, "manifest_ref", &p) < 0) {
        Py_DECREF(path);
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "manifest_ref must be a str path");
        return NULL;
    }
    char *canonical = NULL;
    nr_error err = NR_ERROR_INIT;
    NemoRelayStatus st = nr_manifest_resolve(p, &canonical, &err);
    Py_DECREF(path);
    if (st != NEMO_RELAY_STATUS_OK) {
        err.kind = NR_E_PLUGIN_LOAD;
        return nr_py_raise(&err);
    }
    PyObject *r = PyUnicode_FromString(canonical);
    free(canonical);
    return r;
}

/* The manifest's ignored-name warnings as a new list of str. */
static PyObject *manifest_warning_list(const nr_manifest *m)
{
    PyObject *list = PyList_New((Py_ssize_t)m->warnings.count);
    for (size_t i = 0; list != NULL && i < m->warnings.count; i++) {
        PyObject *s = PyUnicode_FromString(m->warnings.items[i]);
        if (s == NULL)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, (Py_ssize_t)i, s);
    }
    return list;
}

static PyObject *manifest_dict(const nr_manifest *m, const char *library)
{
    PyObject *caps = PyList_New(0);
    for (size_t i = 0; caps != NULL && i < m->capabilities.count; i++) {
        PyObject *s = PyUnicode_FromString(m->capabilities.items[i]);
        if (s == NULL || PyList_Append(caps, s) < 0)
            Py_CLEAR(caps);
        Py_XDECREF(s);
    }
    if (caps == NULL)
        return NULL;
    PyObject *warnings = manifest_warning_list(m);
    if (warnings == NULL) {
        Py_DECREF(caps);
        return NULL;
    }
    return Py_BuildValue("{s:I,s:z,s:z,s:z,s:z,s:z,s:z,s:N,s:z,s:z,s:z,s:N}", "manifest_version",
                         (unsigned)m->manifest_version, "id", m->plugin.id, "kind",
                         nr_plugin_kind_name(m->plugin.kind), "name", m->plugin.name, "version",
                         m->plugin.version, "relay", m->compat.relay, "native_api",
                         m->compat.native_api, "capabilities", caps, "symbol", m->load.symbol,
                         "sha256", m->integrity.sha256, "library", library, "warnings", warnings);
}

/* read_manifest(path) -> bytes: the manifest file read as the loader reads
 * it (a regular file of at most 1 MiB, never blocking on a FIFO); raises
 * PluginLoadError. */
static PyObject *read_manifest(PyObject *mod, PyObject *path_obj)
{
    (void)mod;
    const char *path;
    if (nr_py_req_str(path_obj, "path", &path) < 0)
        return NULL;
    char *text = NULL;
    size_t len = 0;
    nr_error err = NR_ERROR_INIT;
    NemoRelayStatus st;
    Py_BEGIN_ALLOW_THREADS
    st = nr_manifest_read_file(path, &text, &len, &err);
    Py_END_ALLOW_THREADS
    if (st != NEMO_RELAY_STATUS_OK) {
        nr_loader_error_as_load_error(&err);
        return nr_py_raise(&err);
    }
    PyObject *r = PyBytes_FromStringAndSize(text, (Py_ssize_t)len);
    free(text);
    return r;
}

/* manifest_warnings(path, json_text_or_None) -> [str]: parses the manifest
 * (raising PluginLoadError as loading would) and returns the unknown names it
 * ignores.  No check beyond parsing runs. */
static PyObject *manifest_warnings(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    (void)mod;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "manifest_warnings(path, json)");
        return NULL;
    }
    const char *path, *json;
    if (nr_py_req_str(args[0], "path", &path) < 0 || nr_py_opt_str(args[1], "json", &json) < 0)
        return NULL;
    nr_manifest m;
    memset(&m, 0, sizeof m);
    char *text = NULL;
    size_t len = 0;
    nr_error err = NR_ERROR_INIT;
    NemoRelayStatus st;
    if (json != NULL)
        st = nr_manifest_parse_json(json, strlen(json), path, &m, &err);
    else if ((st = nr_manifest_read_file(path, &text, &len, &err)) == NEMO_RELAY_STATUS_OK)
        st = nr_manifest_parse_json(text, len, path, &m, &err);
    PyObject *r = NULL;
    if (st == NEMO_RELAY_STATUS_OK) {
        r = manifest_warning_list(&m);
    } else {
        nr_loader_error_as_load_error(&err);
        nr_py_raise(&err);
    }
    nr_manifest_clear(&m);
    free(text);
    return r;
}

/* check_manifest(path, json_text_or_None, expected_id=None, trust_writable=False,
 *                probe_library=True) -> dict; never dlopens */
static PyObject *check_manifest(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    (void)mod;
    if (nargs < 2 || nargs > 5) {
        PyErr_SetString(PyExc_TypeError, "check_manifest(path, json, expected_id=None, "
                                         "trust_writable=False, probe_library=True)");
        return NULL;
    }
    const char *path, *json, *expected = NULL;
    if (nr_py_req_str(args[0], "path", &path) < 0 || nr_py_opt_str(args[1], "json", &json) < 0 ||
        (nargs > 2 && nr_py_opt_str(args[2], "expected_id", &expected) < 0))
        return NULL;
    int trust = nargs > 3 ? PyObject_IsTrue(args[3]) : 0;
    int probe = nargs > 4 ? PyObject_IsTrue(args[4]) : 1;
    if (trust < 0 || probe < 0)
        return NULL;
    nr_manifest m;
    memset(&m, 0, sizeof m);
    char *text = NULL, *library = NULL;
    size_t len = 0;
    nr_error err = NR_ERROR_INIT;
    NemoRelayStatus st;
    if (json != NULL)
        st = nr_manifest_parse_json(json, strlen(json), path, &m, &err);
    else if ((st = nr_manifest_read_file(path, &text, &len, &err)) == NEMO_RELAY_STATUS_OK)
        st = nr_manifest_parse_json(text, len, path, &m, &err);
    if (st != NEMO_RELAY_STATUS_OK && expected != NULL)
        nr_loader_error_annotate(&err, NULL, expected, NULL); /* the id the caller asked for */
    if (st == NEMO_RELAY_STATUS_OK) {
        nr_manifest_check_opts opts = {expected, nr_relay_version(), trust != 0, probe != 0};
        st = nr_manifest_check(&m, path, &opts, &library, &err);
        if (st == NEMO_RELAY_STATUS_OK && probe &&
            (st = nr_elf_check_library(library, &err)) != NEMO_RELAY_STATUS_OK)
            nr_loader_error_annotate(&err, "architecture", expected != NULL ? expected : m.plugin.id, path);
    }
    PyObject *r = NULL;
    if (st == NEMO_RELAY_STATUS_OK) {
        r = manifest_dict(&m, library);
    } else {
        nr_loader_error_as_load_error(&err);
        nr_py_raise(&err);
    }
    nr_manifest_clear(&m);
    free(text);
    free(library);
    return r;
}

/* ---- native activations ---------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    nr_native_activation *activation; /* NULL once closed */
    PyObject *kinds;                  /* tuple of str */
} ActivationObject;


static void activation_close_impl(ActivationObject *self)
{
    nr_native_activation *a = self->activation;
    self->activation = NULL;
    if (a != NULL) {
        PyThreadState *ts = nr_py_native_begin();
        nr_native_activation_close(a);
        nr_py_native_end(ts);
    }
}

static PyObject *activation_close(ActivationObject *self, PyObject *unused)
{
    (void)unused;
    activation_close_impl(self);
    Py_RETURN_NONE;
}

static PyObject *activation_is_empty(ActivationObject *self, PyObject *unused)
{
    (void)unused;
    return PyBool_FromLong(PyTuple_GET_SIZE(self->kinds) == 0);
}

static PyObject *activation_enter(PyObject *self, PyObject *unused)
{
    (void)unused;
    return Py_NewRef(self);
}

static PyObject *activation_exit(ActivationObject *self, PyObject *args)
{
    (void)args;
    activation_close_impl(self);
    Py_RETURN_FALSE;
}

static PyObject *activation_get_kinds(ActivationObject *self, void *c)
{
    (void)c;
    return Py_NewRef(self->kinds);
}

static PyObject *activation_get_closed(ActivationObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(self->activation == NULL);
}

static PyObject *activation_repr(ActivationObject *self)
{
    return PyUnicode_FromFormat("<NativePluginActivation kinds=%R%s>", self->kinds,
                                self->activation == NULL ? " closed" : "");
}

static void activation_dealloc(ActivationObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    activation_close_impl(self); /* dropped without close: release anyway */
    Py_CLEAR(self->kinds);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static int activation_traverse(ActivationObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->kinds);
    return 0;
}

static PyMethodDef activation_methods[] = {
    {"close", (PyCFunction)activation_close, METH_NOARGS,
     "Deregister the plugin kinds and release the libraries (idempotent).  Clear the "
     "plugin configuration first."},
    {"is_empty", (PyCFunction)activation_is_empty, METH_NOARGS, "Whether nothing was loaded."},
    {"__enter__", activation_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)activation_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyObject *activation_get_plugins(ActivationObject *self, void *c)
{
    (void)c;
    if (self->activation == NULL)
        return PyList_New(0);
    size_t n = nr_native_activation_count(self->activation);
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; l != NULL && i < n; i++) {
        PyObject *d = Py_BuildValue(
            "{s:s,s:s,s:O,s:I}", "kind", nr_native_activation_kind(self->activation, i), "library",
            nr_native_activation_library(self->activation, i), "allows_multiple_components",
            nr_native_activation_allows_multiple(self->activation, i) ? Py_True : Py_False,
            "abi_version", (unsigned)NEMO_RELAY_NATIVE_ABI_VERSION);
        if (d == NULL)
            Py_CLEAR(l);
        else
            PyList_SET_ITEM(l, (Py_ssize_t)i, d);
    }
    return l;
}

static PyGetSetDef activation_getset[] = {
    {"plugins", (getter)activation_get_plugins, NULL,
     "One dict per loaded plugin: kind, library, allows_multiple_components, abi_version.", NULL},
    {"kinds", (getter)activation_get_kinds, NULL, "The plugin kinds this activation registered.",
     NULL},
    {"closed", (getter)activation_get_closed, NULL, "Whether close() ran.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot activation_slots[] = {
    {Py_tp_dealloc, activation_dealloc},
    {Py_tp_traverse, activation_traverse},
    {Py_tp_repr, activation_repr},
    {Py_tp_methods, activation_methods},
    {Py_tp_getset, activation_getset},
    {Py_tp_doc, "Native plugins loaded by load_native_plugins; close() unloads them."},
    {0, NULL},
};

static PyType_Spec activation_spec = {
    "nemo_relay.plugin.NativePluginActivation", sizeof(ActivationObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    activation_slots};

/* load_native_plugins([(plugin_id, manifest_path, json_or_None, trust_writable), ...]) */
static PyObject *load_native_plugins(PyObject *mod, PyObject *specs_obj)
{
    (void)mod;
    PyObject *seq = PySequence_Fast(specs_obj, "specs must be a sequence");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    nr_native_spec *specs = calloc((size_t)n + 1, sizeof *specs);
    PyObject *result = NULL;
    if (specs == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = PySequence_Fast_GET_ITEM(seq, i);
        PyObject *id, *path, *json, *trust;
        if (!PyTuple_Check(t) || !PyArg_ParseTuple(t, "UUOO", &id, &path, &json, &trust)) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "each spec is (plugin_id, path, json, trust)");
            goto done;
        }
        const char *j;
        Py_ssize_t jlen = 0;
        if (nr_py_req_str(id, "plugin_id", &specs[i].plugin_id) < 0 ||
            nr_py_req_str(path, "manifest_ref", &specs[i].manifest_path) < 0 ||
            nr_py_opt_str(json, "manifest json", &j) < 0)
            goto done;
        if (j != NULL && PyUnicode_AsUTF8AndSize(json, &jlen) == NULL)
            goto done;
        specs[i].manifest_json = j;
        specs[i].manifest_json_len = (size_t)jlen;
        int tw = PyObject_IsTrue(trust);
        if (tw < 0 || specs[i].plugin_id == NULL || specs[i].manifest_path == NULL)
            goto done;
        specs[i].trust_writable = tw != 0;
    }
    nr_native_activation *a = NULL;
    nr_error err = NR_ERROR_INIT;
    PyThreadState *ts = PyEval_SaveThread(); /* plugin entry points run without the GIL */
    NemoRelayStatus st = nr_native_load(specs, (size_t)n, &a, &err);
    PyEval_RestoreThread(ts);
    if (st != NEMO_RELAY_STATUS_OK) {
        nr_py_raise(&err);
        goto done;
    }
    size_t count = nr_native_activation_count(a);
    PyObject *kinds = PyTuple_New((Py_ssize_t)count);
    for (size_t i = 0; kinds != NULL && i < count; i++) {
        PyObject *k = PyUnicode_FromString(nr_native_activation_kind(a, i));
        if (k == NULL)
            Py_CLEAR(kinds);
        else
            PyTuple_SET_ITEM(kinds, (Py_ssize_t)i, k);
    }
    ActivationObject *obj =
        kinds != NULL ? PyObject_GC_New(ActivationObject, nr_py_get_state()->Activation_Type) : NULL;
    if (obj == NULL) {
        Py_XDECREF(kinds);
        nr_native_activation_close(a);
        goto done;
    }
    obj->activation = a;
    obj->kinds = kinds;
    PyObject_GC_Track(obj);
    result = (PyObject *)obj;
done:
    free(specs);
    Py_DECREF(seq);
    return result;
}

#define FASTCALL(fn) (PyCFunction)(void (*)(void))(fn)

static PyMethodDef plugin_methods[] = {
    {"plugin_validate", plugin_validate, METH_O, "validate(config: dict) -> report"},
    {"plugin_initialize", FASTCALL(plugin_initialize), METH_FASTCALL,
     "plugin_initialize(config, lease=None) -> report"},
    {"plugin_clear", FASTCALL(plugin_clear), METH_FASTCALL, "plugin_clear(lease=None)"},
    {"plugin_report", plugin_report, METH_NOARGS, "The active configuration's report or None."},
    {"plugin_list_kinds", plugin_list_kinds, METH_NOARGS, "Registered plugin kinds, sorted."},
    {"plugin_lease_acquire", plugin_lease_acquire, METH_NOARGS, NULL},
    {"plugin_lease_release", plugin_lease_release, METH_O, NULL},
    {"plugin_register", FASTCALL(plugin_register), METH_FASTCALL,
     "register(plugin_kind, plugin) -> None"},
    {"plugin_deregister", plugin_deregister, METH_O, "deregister(plugin_kind) -> bool"},
    {"resolve_manifest", resolve_manifest, METH_O, "Canonical manifest path for a file or directory."},
    {"check_manifest", FASTCALL(check_manifest), METH_FASTCALL,
     "Every manifest check that needs no dlopen."},
    {"read_manifest", read_manifest, METH_O,
     "read_manifest(path) -> bytes of a manifest file, bounded, regular files only."},
    {"manifest_warnings", FASTCALL(manifest_warnings), METH_FASTCALL,
     "manifest_warnings(path, json) -> unknown names the manifest's parse ignored."},
    {"load_native_plugins", load_native_plugins, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

int nr_py_plugin_init(PyObject *module, nr_py_state *st)
{
    st->PluginContext_Type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &ctx_spec, NULL);
    st->Activation_Type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &activation_spec, NULL);
    if (st->PluginContext_Type == NULL || st->Activation_Type == NULL ||
        PyModule_AddObjectRef(module, "PluginContext", (PyObject *)st->PluginContext_Type) < 0 ||
        PyModule_AddObjectRef(module, "NativePluginActivation", (PyObject *)st->Activation_Type) < 0)
        return -1;
    return PyModule_AddFunctions(module, plugin_methods);
}
