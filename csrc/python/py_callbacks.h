/*
 * py_callbacks.h -- Python callables registered with the runtime.
 *
 * A registration's user_data is an nr_py_cb: the callable and its
 * registration name (for warnings).  Its free_fn may run on any thread; it
 * takes the GIL, and after interpreter shutdown leaves the Python objects
 * alone.
 */
#ifndef NR_PY_CALLBACKS_H
#define NR_PY_CALLBACKS_H

#include "py_state.h"

#include "nr_registry.h"

typedef struct nr_py_cb {
    PyObject *callable; /* strong */
    PyObject *name;     /* strong str */
} nr_py_cb;

/* New user_data (NULL with MemoryError). */
nr_py_cb *nr_py_cb_new(PyObject *callable, PyObject *name);
/* free_fn for nr_py_cb user_data. */
void nr_py_cb_free(void *ud);

/* Checks the arguments of a Python callable's registration and fills *spec:
 * name a str, priority an int within int32 (NULL: 0), callable callable
 * and, for guardrails and request intercepts, not a coroutine function.
 * spec->name is borrowed from name; spec->user_data is a new nr_py_cb the
 * caller owns until a registration succeeds (nr_py_cb_free it otherwise).
 * -1 with TypeError/ValueError set. */
int nr_py_callback_spec(nr_mw_kind kind, PyObject *name, PyObject *priority, bool break_chain,
                        PyObject *callable, nr_callback_spec *spec);

/* Registers a Python callable (arguments as nr_py_callback_spec): globally
 * (scope_uuid NULL) or on the scope with that uuid, which must be on the
 * calling context's chain. */
PyObject *nr_py_register(nr_py_state *st, nr_mw_kind kind, const nr_uuid *scope_uuid,
                         PyObject *name, PyObject *priority, bool break_chain,
                         PyObject *callable);

/* Deregisters by name; returns a bool object. */
PyObject *nr_py_deregister(nr_py_state *st, nr_mw_kind kind, const nr_uuid *scope_uuid,
                           PyObject *name);

/* The runtime-side trampoline for Python subscribers. */
void nr_py_subscriber_cb(void *ud, struct nr_event *ev);

#endif /* NR_PY_CALLBACKS_H */
