/* py_callbacks.c -- registering Python callables; the subscriber trampoline. */
#include "py_callbacks.h"

#include "py_bridge.h"
#include "py_call.h"

#include "nr_scope_ops.h"

#include <stdlib.h>
#include <string.h>

nr_py_cb *nr_py_cb_new(PyObject *callable, PyObject *name)
{
    nr_py_cb *cb = malloc(sizeof *cb);
    if (cb == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    cb->callable = Py_NewRef(callable);
    cb->name = Py_NewRef(name);
    return cb;
}

void nr_py_cb_free(void *ud)
{
    nr_py_cb *cb = ud;
    /* After shutdown the interpreter may be gone: leave its objects alone. */
    if (nr_py_alive()) {
        PyGILState_STATE g = PyGILState_Ensure();
        Py_DECREF(cb->callable);
        Py_DECREF(cb->name);
        PyGILState_Release(g);
    }
    free(cb);
}

/* Guardrails and request intercepts run inside the runtime's synchronous
 * pipeline: their callbacks cannot be awaited. */
static bool sync_only(nr_mw_kind kind)
{
    switch (kind) {
    case NR_MW_TOOL_SANITIZE_REQUEST:
    case NR_MW_TOOL_SANITIZE_RESPONSE:
    case NR_MW_TOOL_CONDITIONAL:
    case NR_MW_TOOL_REQUEST_INTERCEPT:
    case NR_MW_LLM_SANITIZE_REQUEST:
    case NR_MW_LLM_SANITIZE_RESPONSE:
    case NR_MW_LLM_CONDITIONAL:
    case NR_MW_LLM_REQUEST_INTERCEPT: return true;
    default: return false;
    }
}

int nr_py_callback_spec(nr_mw_kind kind, PyObject *name, PyObject *priority, bool break_chain,
                        PyObject *callable, nr_callback_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    const char *cname;
    char what[96];
    snprintf(what, sizeof what, "%s name", nr_mw_kind_name(kind));
    if (nr_py_req_str(name, what, &cname) < 0)
        return -1;
    long prio = 0;
    if (priority != NULL) {
        if (!PyLong_Check(priority)) {
            PyErr_Format(PyExc_TypeError, "priority must be an int, not %.100s",
                         Py_TYPE(priority)->tp_name);
            return -1;
        }
        int overflow = 0;
        prio = PyLong_AsLongAndOverflow(priority, &overflow);
        if (prio == -1 && PyErr_Occurred())
            return -1;
        if (overflow || prio < INT32_MIN || prio > INT32_MAX) {
            PyErr_SetString(PyExc_ValueError, "priority must fit in a 32-bit signed integer");
            return -1;
        }
    }
    if (!PyCallable_Check(callable)) {
        PyErr_Format(PyExc_TypeError, "%s callback must be callable, not %.100s",
                     nr_mw_kind_name(kind), Py_TYPE(callable)->tp_name);
        return -1;
    }
    if (sync_only(kind)) {
        PyObject *r = PyObject_CallOneArg(nr_py_get_state()->iscoroutinefunction, callable);
        int is_async = r != NULL ? PyObject_IsTrue(r) : -1;
        Py_XDECREF(r);
        if (is_async < 0)
            return -1;
        if (is_async) {
            PyErr_Format(PyExc_TypeError,
                         "%R: guardrails and request intercepts are synchronous; pass a regular "
                         "function, not an async one",
                         name);
            return -1;
        }
    }
    nr_py_cb *ud = nr_py_cb_new(callable, name);
    if (ud == NULL)
        return -1;
    spec->kind = kind;
    spec->name = cname;
    spec->priority = (int32_t)prio;
    spec->break_chain = break_chain;
    spec->native = false;
    spec->fn = nr_py_trampoline_for(kind);
    spec->user_data = ud;
    spec->free_fn = nr_py_cb_free;
    return 0;
}

PyObject *nr_py_register(nr_py_state *st, nr_mw_kind kind, const nr_uuid *scope_uuid,
                         PyObject *name, PyObject *priority, bool break_chain,
                         PyObject *callable)
{
    nr_callback_spec spec;
    if (nr_py_callback_spec(kind, name, priority, break_chain, callable, &spec) < 0)
        return NULL;
    nr_py_cb *ud = spec.user_data;
    nr_error err = NR_ERROR_INIT;
    NemoRelayStatus status;
    if (scope_uuid == NULL) {
        status = nr_register(&spec, NULL, &err);
    } else {
        nr_py_frame f;
        if (nr_py_frame_enter(st, &f) < 0) {
            nr_py_cb_free(ud);
            return NULL;
        }
        status = nr_scope_local_register(scope_uuid, &spec, &err);
        nr_py_frame_exit(st, &f, NULL);
    }
    if (status != NEMO_RELAY_STATUS_OK) {
        nr_py_cb_free(ud); /* a failed registration took nothing */
        return nr_py_raise(&err);
    }
    Py_RETURN_NONE;
}

PyObject *nr_py_deregister(nr_py_state *st, nr_mw_kind kind, const nr_uuid *scope_uuid,
                           PyObject *name)
{
    const char *cname;
    char what[96];
    snprintf(what, sizeof what, "%s name", nr_mw_kind_name(kind));
    if (nr_py_req_str(name, what, &cname) < 0)
        return NULL;
    bool found;
    if (scope_uuid == NULL) {
        found = nr_deregister(kind, cname, NULL);
    } else {
        nr_py_frame f;
        if (nr_py_frame_enter(st, &f) < 0)
            return NULL;
        found = nr_scope_local_deregister(scope_uuid, kind, cname);
        nr_py_frame_exit(st, &f, NULL);
    }
    return PyBool_FromLong(found);
}

void nr_py_subscriber_cb(void *ud, struct nr_event *ev)
{
    nr_py_cb *cb = ud;
    if (!nr_py_alive())
        return;
    PyGILState_STATE g = PyGILState_Ensure();
    nr_py_state *st = nr_py_get_state();
    if (st == NULL || st->finalizing)
        goto done;
    PyObject *event = nr_py_event_new(ev);
    PyObject *result = event != NULL ? nr_py_call_bridged(st, cb->callable, &event, 1, NULL) : NULL;
    Py_XDECREF(event);
    if (result == NULL) {
        /* D4: a failing subscriber never breaks the emitter. */
        PyObject *type, *value, *tb, *holder;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        const char *text = nr_py_exc_text(value, &holder);
        PyObject *msg = PyUnicode_FromFormat("subscriber %R raised %s: %s", cb->name,
                                             type != NULL ? ((PyTypeObject *)type)->tp_name : "?",
                                             text);
        Py_XDECREF(holder);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        const char *message = msg != NULL ? PyUnicode_AsUTF8(msg) : NULL;
        if (message != NULL)
            nr_py_warn(message);
        else
            PyErr_Clear();
        Py_XDECREF(msg);
    }
    Py_XDECREF(result);
done:
    PyGILState_Release(g);
}
