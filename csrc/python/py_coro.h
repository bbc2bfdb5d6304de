/*
 * py_coro.h -- coroutines implemented in C.
 *
 * A managed call awaits Python awaitables (an async tool function, an async
 * intercept, an asyncio future) without a Python frame of its own: an
 * nr_py_coro delegates send/throw to the awaitable it is suspended on, like
 * `await` does, and runs C continuations in between.  The objects implement
 * the full coroutine protocol (__await__, send, throw, close, am_send), so
 * they register as collections.abc.Coroutine and asyncio.create_task accepts
 * them.
 *
 * A concrete coroutine embeds nr_py_coro first and supplies its ops.  Each
 * step (start, resume) either finishes with *result, or suspends by calling
 * nr_py_coro_await() and returning 0 with *result NULL, or fails with -1 and
 * a Python exception set.
 */
#ifndef NR_PY_CORO_H
#define NR_PY_CORO_H

#include "py_state.h"

typedef struct nr_py_coro nr_py_coro;

typedef struct nr_py_coro_ops {
    int (*start)(nr_py_coro *self, PyObject **result);
    /* value: what the awaited object returned (borrowed), or NULL with the
     * exception it raised set */
    int (*resume)(nr_py_coro *self, PyObject *value, PyObject **result);
    /* the coroutine is closed or destroyed after start and before finishing */
    void (*abandon)(nr_py_coro *self);
    int (*traverse)(nr_py_coro *self, visitproc visit, void *arg);
    void (*clear)(nr_py_coro *self);
    /* optional: the coroutine is destroyed without ever being started or
     * closed (like Python's "coroutine ... was never awaited"); called with
     * no exception set, before clear */
    void (*never_awaited)(nr_py_coro *self);
} nr_py_coro_ops;

enum { NR_CORO_INIT = 0, NR_CORO_RUNNING = 1, NR_CORO_DONE = 2 };

struct nr_py_coro {
    PyObject_HEAD
    const nr_py_coro_ops *ops;
    PyObject *awaiting; /* iterator of the awaitable we are suspended on */
    int state;
};

/* Suspends on `awaitable` (any object with __await__).  -1 with TypeError if
 * it is not awaitable. */
int nr_py_coro_await(nr_py_coro *self, PyObject *awaitable);

/* Whether obj can be awaited. */
int nr_py_is_awaitable(PyObject *obj);

/* Creates a coroutine type from a spec name and instance size; the slots and
 * methods are shared by every nr_py_coro type. */
PyTypeObject *nr_py_coro_type(PyObject *module, const char *name, Py_ssize_t basicsize,
                              const char *doc);

/* Allocates an instance (GC-tracked by the caller when fully initialised). */
nr_py_coro *nr_py_coro_alloc(PyTypeObject *type, const nr_py_coro_ops *ops);

#endif /* NR_PY_CORO_H */
