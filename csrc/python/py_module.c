/*
 * py_module.c -- nemo_relay._native: multi-phase init, module state, teardown.
 *
 * One instance per process: the runtime below is process-global (SPEC D10),
 * so a second instance (another interpreter, or a re-import after deletion)
 * is refused at exec time.
 */
#include "py_state.h"

#include <stdatomic.h>

#include "py_annotated.h"
#include "py_call.h"
#include "py_codecs.h"
#include "py_convert.h"
#include "py_llm_request.h"
#include "py_export_queue.h"
#include "py_scope.h"
#include "py_worker.h"

#include "nr_plugin.h"
#include "nr_registry.h"
#include "nr_runtime.h"

/* The live module's state.  Written only at exec and at module free, both
 * under the GIL; read by runtime callbacks after they take the GIL. */
static nr_py_state *g_state;

/* Set at exec, cleared by the atexit hook; read by any thread without the GIL. */
static atomic_bool g_alive;

nr_py_state *nr_py_get_state(void)
{
    return g_state;
}

bool nr_py_alive(void)
{
    return atomic_load(&g_alive);
}

/* Runtime warnings (a failing sanitizer, ...) become RuntimeWarnings. */
static void warn_hook(const char *message)
{
    if (!nr_py_alive())
        return;
    PyGILState_STATE g = PyGILState_Ensure();
    if (g_state != NULL && !g_state->finalizing)
        nr_py_warn(message);
    PyGILState_Release(g);
}

/* atexit: stop calling into Python and drop every registration while the
 * interpreter is still whole (SPEC D10). */
static PyObject *shutdown(PyObject *mod, PyObject *unused)
{
    (void)unused;
    nr_py_state *st = PyModule_GetState(mod);
    /* Without the GIL: the shutdown may wait for a configuration change on
     * another thread, which needs the GIL to call a Python plugin. */
    PyThreadState *ts = PyEval_SaveThread();
    nr_plugin_shutdown();
    PyEval_RestoreThread(ts);
    nr_registry_clear_all();
    nr_py_worker_shutdown();
    atomic_store(&g_alive, false);
    st->finalizing = 1;
    Py_RETURN_NONE;
}

/* Test aid: how many registrations (global and scope-local) exist. */
static PyObject *registration_count(PyObject *mod, PyObject *unused)
{
    (void)mod;
    (void)unused;
    long n = 0;
    for (int k = 0; k < NR_MW_KIND_COUNT; k++)
        n += nr_registry_count((nr_mw_kind)k);
    return PyLong_FromLong(n);
}

/* The global registrations (kind, name, priority, ...), for tools. */
static PyObject *registrations(PyObject *mod, PyObject *unused)
{
    (void)mod;
    (void)unused;
    cJSON *j = nr_registry_describe();
    if (j == NULL)
        return PyErr_NoMemory();
    PyObject *r = nr_py_from_cjson(j);
    cJSON_Delete(j);
    return r;
}

static PyMethodDef module_methods[] = {
    {"_registrations", registrations, METH_NOARGS,
     "The global registrations as dicts (kind, name, priority, break_chain, native)."},
    {"_shutdown", shutdown, METH_NOARGS, "Interpreter shutdown hook (called via atexit)."},
    {"_registration_count", registration_count, METH_NOARGS,
     "Number of live registrations (global and scope-local); for tests."},
    {NULL, NULL, 0, NULL},
};

static int import_errors(nr_py_state *st)
{
    PyObject *m = PyImport_ImportModule("nemo_relay.errors");
    if (m == NULL)
        return -1;
    struct {
        PyObject **slot;
        const char *name;
    } classes[] = {
        {&st->RelayError, "RelayError"},
        {&st->GuardrailRejected, "GuardrailRejected"},
        {&st->ScopeError, "ScopeError"},
        {&st->NotOnTop, "NotOnTop"},
        {&st->ScopeNotFound, "ScopeNotFound"},
        {&st->AlreadyExists, "AlreadyExists"},
        {&st->NotFoundError, "NotFoundError"},
        {&st->PluginError, "PluginError"},
        {&st->InvalidConfig, "InvalidConfig"},
        {&st->RegistrationFailed, "RegistrationFailed"},
        {&st->PluginLoadError, "PluginLoadError"},
    };
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
        *classes[i].slot = PyObject_GetAttrString(m, classes[i].name);
        if (*classes[i].slot == NULL) {
            Py_DECREF(m);
            return -1;
        }
    }
    Py_DECREF(m);
    return 0;
}

/* module.name (new reference), or NULL with an exception. */
static PyObject *import_attr(const char *module, const char *name)
{
    PyObject *m = PyImport_ImportModule(module);
    if (m == NULL)
        return NULL;
    PyObject *attr = PyObject_GetAttrString(m, name);
    Py_DECREF(m);
    return attr;
}

static int module_exec(PyObject *mod)
{
    if (g_state != NULL) {
        PyErr_SetString(PyExc_ImportError,
                        "nemo_relay._native is already loaded in this process; its runtime is "
                        "process-global and supports one interpreter");
        return -1;
    }
    nr_py_state *st = PyModule_GetState(mod);
    nr_runtime_init();
    g_state = st;
    if ((st->scope_var = PyContextVar_New("nemo_relay.current_scope", NULL)) == NULL ||
        PyModule_AddObjectRef(mod, "_scope_var", st->scope_var) < 0)
        goto fail;
    if ((st->str_value = PyUnicode_InternFromString("value")) == NULL ||
        (st->str_headers = PyUnicode_InternFromString("headers")) == NULL ||
        (st->str_content = PyUnicode_InternFromString("content")) == NULL)
        goto fail;
    if ((st->iscoroutinefunction = import_attr("inspect", "iscoroutinefunction")) == NULL)
        goto fail;
    if (nr_py_convert_init(st) < 0 || nr_py_handles_init(mod, st) < 0 ||
        nr_py_events_init(mod, st) < 0 || import_errors(st) < 0)
        goto fail;
    if (nr_py_llm_request_init(mod, st) < 0 || nr_py_call_init(mod, st) < 0 ||
        nr_py_worker_init(st) < 0 || nr_py_plugin_init(mod, st) < 0 ||
        nr_py_stream_init(mod, st) < 0 || nr_py_annotated_init(mod, st) < 0 ||
        nr_py_codecs_init(mod, st) < 0)
        goto fail;
    if (PyModule_AddFunctions(mod, nr_py_scope_methods) < 0 || nr_py_middleware_init(mod) < 0)
        goto fail;
    if (nr_py_export_queue_init(mod) < 0)
        goto fail;
    if (PyModule_AddStringConstant(mod, "RELAY_VERSION", nr_relay_version()) < 0)
        goto fail;
    nr_runtime_set_warn_hook(warn_hook);
    atomic_store(&g_alive, true);
    return 0;
fail:
    g_state = NULL;
    return -1;
}

static int module_traverse(PyObject *mod, visitproc visit, void *arg)
{
    nr_py_state *st = PyModule_GetState(mod);
    if (st == NULL)
        return 0;
#define VISIT(field) Py_VISIT(st->field);
    NR_PY_STATE_OBJECTS(VISIT)
#undef VISIT
    return 0;
}

static int module_clear(PyObject *mod)
{
    nr_py_state *st = PyModule_GetState(mod);
    if (st == NULL)
        return 0;
    /* Handles and events that outlive the module keep their own type alive. */
#define CLEAR(field) Py_CLEAR(st->field);
    NR_PY_STATE_OBJECTS(CLEAR)
#undef CLEAR
    return 0;
}

static void module_free(void *mod)
{
    module_clear((PyObject *)mod);
    if (g_state == PyModule_GetState((PyObject *)mod)) {
        atomic_store(&g_alive, false);
        g_state->finalizing = 1;
        g_state = NULL;
    }
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
#if PY_VERSION_HEX >= 0x030C0000
    /* the runtime is process-global (SPEC D10) */
    {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED},
#endif
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "nemo_relay._native",
    .m_doc = "The C runtime of nemo_relay (scopes, events, middleware, native plugins).",
    .m_size = sizeof(nr_py_state),
    .m_methods = module_methods,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC PyInit__native(void)
{
    return PyModuleDef_Init(&module_def);
}
