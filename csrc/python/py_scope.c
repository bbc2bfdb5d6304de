/* py_scope.c -- nemo_relay.scope, the scope-stack helpers and subscribers. */
#include "py_scope.h"

#include "py_bridge.h"
#include "py_callbacks.h"
#include "py_convert.h"

#include "nr_emit.h"
#include "nr_registry.h"
#include "nr_scope_ops.h"

/* Runtime calls that may reach native plugin code run without the GIL when
 * native callbacks exist; Python callbacks take it back (SPEC D3). */
PyThreadState *nr_py_native_begin(void)
{
    return nr_registry_native_count() > 0 ? PyEval_SaveThread() : NULL;
}

void nr_py_native_end(PyThreadState *ts)
{
    if (ts != NULL)
        PyEval_RestoreThread(ts);
}

int nr_py_flags(PyObject *obj, nr_family family, uint32_t *out)
{
    static const char *const flag_names[] = {"ScopeAttributes", "ToolAttributes", "LLMAttributes"};
    *out = 0;
    if (obj == NULL || obj == Py_None)
        return 0;
    PyObject *v = PyLong_Check(obj) ? Py_NewRef(obj) : PyObject_GetAttrString(obj, "value");
    if (v == NULL || !PyLong_Check(v)) {
        Py_XDECREF(v);
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "attributes must be an int or attribute flags, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    uint32_t mask = nr_family_mask(family);
    unsigned long long bits = PyLong_AsUnsignedLongLong(v);
    if (bits == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear(); /* negative or too large: no flags have those bits */
        bits = ~0ull;
    }
    if ((bits & ~(unsigned long long)mask) != 0) {
        PyErr_Format(PyExc_ValueError, "attributes %R has bits that are not %s flags (known: 0..%u)",
                     v, flag_names[family], (unsigned)mask);
        Py_DECREF(v);
        return -1;
    }
    Py_DECREF(v);
    *out = (uint32_t)bits;
    return 0;
}

int nr_py_opt_parent(PyObject *obj, const char *what, const nr_uuid **out)
{
    *out = NULL;
    if (obj == NULL || obj == Py_None)
        return 0;
    nr_scope *node = nr_py_handle_node(obj, what);
    if (node == NULL)
        return -1;
    *out = &node->uuid;
    return 0;
}

static PyObject *scope_push(PyObject *mod, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames)
{
    static const char *const names[] = {"name",     "scope_type", "handle", "attributes", "data",
                                        "metadata", "input",      "timestamp", NULL};
    PyObject *a[8];
    if (nr_py_parse_args("push", args, nargs, kwnames, names, 2, 2, a) < 0)
        return NULL;
    nr_py_state *st = PyModule_GetState(mod);
    nr_push_args pa = {0};
    bool has_ts;
    int64_t ts;
    PyObject *result = NULL;
    nr_value *data = NULL, *metadata = NULL, *input = NULL;
    if (nr_py_req_str(a[0], "scope name", &pa.name) < 0)
        return NULL;
    long type = PyLong_AsLong(a[1]);
    if (type == -1 && PyErr_Occurred())
        return NULL;
    pa.type = (int32_t)(type < -1 ? -1 : type > 1000 ? 1000 : type);
    if (nr_py_opt_parent(a[2], "handle", &pa.parent) < 0 || nr_py_flags(a[3], NR_FAMILY_SCOPE, &pa.attributes) < 0 ||
        nr_py_opt_value(a[4], &data) < 0 || nr_py_opt_value(a[5], &metadata) < 0 ||
        nr_py_opt_value(a[6], &input) < 0 || nr_py_timestamp(a[7], &ts, &has_ts) < 0)
        goto done;
    pa.data = data;
    pa.metadata = metadata;
    pa.input = input;
    pa.ts_us = has_ts ? &ts : NULL;

    nr_py_frame f;
    if (nr_py_frame_enter(st, &f) < 0)
        goto done;
    nr_error err = NR_ERROR_INIT;
    nr_scope *node = NULL;
    PyThreadState *ts_state = nr_py_native_begin();
    NemoRelayStatus status = nr_scope_push(&pa, &node, &err);
    nr_py_native_end(ts_state);
    if (status == NEMO_RELAY_STATUS_OK) {
        result = nr_py_handle_for(node);
        nr_scope_release(node);
    }
    if (nr_py_frame_exit(st, &f, result) < 0)
        Py_CLEAR(result);
    if (status != NEMO_RELAY_STATUS_OK)
        nr_py_raise(&err);
done:
    nr_value_release(data);
    nr_value_release(metadata);
    nr_value_release(input);
    return result;
}

static PyObject *scope_pop(PyObject *mod, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames)
{
    static const char *const names[] = {"handle", "output", "metadata", "timestamp", NULL};
    PyObject *a[4];
    if (nr_py_parse_args("pop", args, nargs, kwnames, names, 1, 1, a) < 0)
        return NULL;
    nr_py_state *st = PyModule_GetState(mod);
    nr_scope *node = nr_py_handle_node(a[0], "handle");
    if (node == NULL)
        return NULL;
    nr_value *output = NULL, *metadata = NULL;
    bool has_ts;
    int64_t ts;
    PyObject *result = NULL;
    if (nr_py_opt_value(a[1], &output) < 0 || nr_py_opt_value(a[2], &metadata) < 0 ||
        nr_py_timestamp(a[3], &ts, &has_ts) < 0)
        goto done;
    nr_py_frame f;
    if (nr_py_frame_enter(st, &f) < 0)
        goto done;
    nr_error err = NR_ERROR_INIT;
    PyThreadState *ts_state = nr_py_native_begin();
    NemoRelayStatus status = nr_scope_pop(&node->uuid, output, metadata, has_ts ? &ts : NULL, &err);
    nr_py_native_end(ts_state);
    int exit_rc = nr_py_frame_exit(st, &f, NULL);
    if (status != NEMO_RELAY_STATUS_OK)
        nr_py_raise(&err);
    else if (exit_rc == 0)
        result = Py_NewRef(Py_None);
done:
    nr_value_release(output);
    nr_value_release(metadata);
    return result;
}

static PyObject *scope_event(PyObject *mod, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames)
{
    static const char *const names[] = {"name", "handle", "data", "metadata", "timestamp", NULL};
    PyObject *a[5];
    if (nr_py_parse_args("event", args, nargs, kwnames, names, 1, 1, a) < 0)
        return NULL;
    nr_py_state *st = PyModule_GetState(mod);
    const char *name;
    const nr_uuid *parent;
    nr_value *data = NULL, *metadata = NULL;
    bool has_ts;
    int64_t ts;
    PyObject *result = NULL;
    if (nr_py_req_str(a[0], "mark name", &name) < 0 || nr_py_opt_parent(a[1], "handle", &parent) < 0 ||
        nr_py_opt_value(a[2], &data) < 0 || nr_py_opt_value(a[3], &metadata) < 0 ||
        nr_py_timestamp(a[4], &ts, &has_ts) < 0)
        goto done;
    nr_py_frame f;
    if (nr_py_frame_enter(st, &f) < 0)
        goto done;
    nr_error err = NR_ERROR_INIT;
    PyThreadState *ts_state = nr_py_native_begin();
    NemoRelayStatus status = nr_scope_mark(name, parent, data, metadata, has_ts ? &ts : NULL, &err);
    nr_py_native_end(ts_state);
    int exit_rc = nr_py_frame_exit(st, &f, NULL);
    if (status != NEMO_RELAY_STATUS_OK)
        nr_py_raise(&err);
    else if (exit_rc == 0)
        result = Py_NewRef(Py_None);
done:
    nr_value_release(data);
    nr_value_release(metadata);
    return result;
}

static PyObject *get_handle(PyObject *mod, PyObject *unused)
{
    (void)unused;
    return nr_py_current_handle(PyModule_GetState(mod));
}

/* ---- stacks ---------------------------------------------------------------- */

static PyObject *create_scope_stack(PyObject *mod, PyObject *unused)
{
    (void)mod;
    (void)unused;
    nr_error err = NR_ERROR_INIT;
    nr_stack *s = nr_stack_new(&err);
    if (s == NULL)
        return nr_py_raise(&err);
    PyObject *obj = nr_py_stack_new(s);
    nr_stack_release(s);
    return obj;
}

static PyObject *stack_at_current(nr_py_state *st)
{
    PyObject *h = nr_py_current_handle(st);
    if (h == NULL)
        return NULL;
    nr_error err = NR_ERROR_INIT;
    nr_stack *s = nr_stack_new_at(nr_py_handle_node(h, "current"), &err);
    Py_DECREF(h);
    if (s == NULL)
        return nr_py_raise(&err);
    PyObject *obj = nr_py_stack_new(s);
    nr_stack_release(s);
    return obj;
}

static PyObject *get_scope_stack(PyObject *mod, PyObject *unused)
{
    (void)unused;
    return stack_at_current(PyModule_GetState(mod));
}

static PyObject *set_thread_scope_stack(PyObject *mod, PyObject *stack_obj)
{
    nr_py_state *st = PyModule_GetState(mod);
    nr_stack *s = nr_py_stack_of(stack_obj);
    if (s == NULL)
        return NULL;
    nr_scope *top = nr_stack_top(s);
    PyObject *h = nr_py_handle_for(top);
    nr_scope_release(top);
    if (h == NULL)
        return NULL;
    nr_thread_bind(s);
    int rc = nr_py_set_current(st, h);
    Py_DECREF(h);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

static int context_has_chain(nr_py_state *st)
{
    PyObject *v;
    if (nr_py_current_value(st, &v) < 0)
        return -1;
    int has = v != NULL;
    Py_XDECREF(v);
    return has;
}

static PyObject *scope_stack_active(PyObject *mod, PyObject *unused)
{
    (void)unused;
    int has = context_has_chain(PyModule_GetState(mod));
    if (has < 0)
        return NULL;
    return PyBool_FromLong(has || nr_visible_active());
}

static PyObject *propagate_scope_to_thread(PyObject *mod, PyObject *unused)
{
    (void)unused;
    nr_py_state *st = PyModule_GetState(mod);
    int has = context_has_chain(st);
    if (has < 0)
        return NULL;
    if (!has && !nr_visible_active()) {
        PyErr_SetString(st->ScopeError,
                        "no active scope stack in current context; push a scope or call "
                        "get_scope_stack() first");
        return NULL;
    }
    return stack_at_current(st);
}

/* Thread bindings for use_scope_stack: an opaque capsule. */
static void binding_capsule_free(PyObject *capsule)
{
    nr_binding *b = PyCapsule_GetPointer(capsule, "nemo_relay.binding");
    if (b != NULL) {
        nr_binding_clear(b);
        PyMem_Free(b);
    }
}

static PyObject *capture_thread_binding(PyObject *mod, PyObject *unused)
{
    (void)mod;
    (void)unused;
    nr_binding *b = PyMem_Malloc(sizeof *b);
    if (b == NULL)
        return PyErr_NoMemory();
    *b = nr_thread_capture();
    PyObject *cap = PyCapsule_New(b, "nemo_relay.binding", binding_capsule_free);
    if (cap == NULL) {
        nr_binding_clear(b);
        PyMem_Free(b);
    }
    return cap;
}

static PyObject *restore_thread_binding(PyObject *mod, PyObject *capsule)
{
    (void)mod;
    nr_binding *b = PyCapsule_GetPointer(capsule, "nemo_relay.binding");
    if (b == NULL)
        return NULL;
    /* restore a copy so the capsule can be restored only once */
    nr_binding copy = *b;
    b->stack = NULL;
    nr_thread_restore(&copy);
    Py_RETURN_NONE;
}

/* ---- subscribers ------------------------------------------------------------- */

static PyObject *subscribers_register(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "register(name, callback) takes 2 arguments");
        return NULL;
    }
    return nr_py_register(PyModule_GetState(mod), NR_MW_SUBSCRIBER, NULL, args[0], NULL, false,
                          args[1]);
}

static PyObject *subscribers_deregister(PyObject *mod, PyObject *name)
{
    return nr_py_deregister(PyModule_GetState(mod), NR_MW_SUBSCRIBER, NULL, name);
}

/* Buffering (native) subscribers write out what they hold; file I/O, so
 * without the GIL. */
static PyObject *subscribers_flush(PyObject *mod, PyObject *unused)
{
    (void)mod;
    (void)unused;
    PyThreadState *ts = nr_py_native_begin();
    nr_emit_flush();
    nr_py_native_end(ts);
    Py_RETURN_NONE;
}

static PyObject *scope_register_subscriber(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError,
                        "register_subscriber(scope_handle, name, callback) takes 3 arguments");
        return NULL;
    }
    nr_scope *node = nr_py_handle_node(args[0], "scope_handle");
    if (node == NULL)
        return NULL;
    return nr_py_register(PyModule_GetState(mod), NR_MW_SUBSCRIBER, &node->uuid, args[1], NULL,
                          false, args[2]);
}

static PyObject *scope_deregister_subscriber(PyObject *mod, PyObject *const *args,
                                             Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError,
                        "deregister_subscriber(scope_handle, name) takes 2 arguments");
        return NULL;
    }
    nr_scope *node = nr_py_handle_node(args[0], "scope_handle");
    if (node == NULL)
        return NULL;
    return nr_py_deregister(PyModule_GetState(mod), NR_MW_SUBSCRIBER, &node->uuid, args[1]);
}

PyMethodDef nr_py_scope_methods[] = {
    {"scope_push", (PyCFunction)(void (*)(void))scope_push, METH_FASTCALL | METH_KEYWORDS,
     "push(name, scope_type, *, handle=None, attributes=None, data=None, metadata=None, "
     "input=None, timestamp=None) -> ScopeHandle"},
    {"scope_pop", (PyCFunction)(void (*)(void))scope_pop, METH_FASTCALL | METH_KEYWORDS,
     "pop(handle, *, output=None, metadata=None, timestamp=None) -> None"},
    {"scope_event", (PyCFunction)(void (*)(void))scope_event, METH_FASTCALL | METH_KEYWORDS,
     "event(name, *, handle=None, data=None, metadata=None, timestamp=None) -> None"},
    {"get_handle", get_handle, METH_NOARGS, "The handle of the current scope."},
    {"create_scope_stack", create_scope_stack, METH_NOARGS, "A new stack with its own root."},
    {"get_scope_stack", get_scope_stack, METH_NOARGS,
     "A stack whose top is the current scope of this context."},
    {"set_thread_scope_stack", set_thread_scope_stack, METH_O,
     "Bind a stack to this thread and make it current in this context."},
    {"scope_stack_active", scope_stack_active, METH_NOARGS,
     "Whether this context or thread has a chosen scope stack."},
    {"propagate_scope_to_thread", propagate_scope_to_thread, METH_NOARGS,
     "A stack to hand to a worker thread (its top is the current scope)."},
    {"_capture_thread_binding", capture_thread_binding, METH_NOARGS, NULL},
    {"_restore_thread_binding", restore_thread_binding, METH_O, NULL},
    {"subscribers_register", (PyCFunction)(void (*)(void))subscribers_register, METH_FASTCALL,
     "register(name, callback) -> None"},
    {"subscribers_deregister", subscribers_deregister, METH_O, "deregister(name) -> bool"},
    {"subscribers_flush", subscribers_flush, METH_NOARGS,
     "flush() -> None: buffering native subscribers write out what they hold."},
    {"scope_register_subscriber", (PyCFunction)(void (*)(void))scope_register_subscriber,
     METH_FASTCALL, "register_subscriber(scope_handle, name, callback) -> None"},
    {"scope_deregister_subscriber", (PyCFunction)(void (*)(void))scope_deregister_subscriber,
     METH_FASTCALL, "deregister_subscriber(scope_handle, name) -> bool"},
    {NULL, NULL, 0, NULL},
};
