/*
 * py_bridge.h -- the contextvars bridge (SPEC D1-D3).
 *
 * Python code sees its current scope chain in one ContextVar, whose value is
 * the ScopeHandle of the chain's top (None or unset: not chosen yet).
 *
 * Python -> C: every runtime call made from Python runs inside a frame
 * (tier 2 of the C visibility rules) holding the context's chain; when the call
 * returns, a changed top (a push or pop made by the call) is written back to
 * the ContextVar.  An unset ContextVar is first seeded from what C would
 * otherwise show (override or thread binding).  One exception: when the thread
 * has an explicitly bound stack (set_thread_scope_stack, use_scope_stack)
 * whose top is the context's chain, the call works on that stack directly, so
 * the bound ScopeStack is shared as upstream's is and native code that
 * rebinds the thread (capture/set_thread/restore) is visible.
 *
 * C -> Python: a Python callable invoked by the runtime runs with the
 * C-visible chain in the ContextVar and with C's override and frame
 * suspended, so the Python code and any runtime call it makes agree on the
 * chain; the ContextVar is restored afterwards.
 */
#ifndef NR_PY_BRIDGE_H
#define NR_PY_BRIDGE_H

#include "py_state.h"

typedef struct nr_py_frame {
    nr_frame frame;   /* holds a reference to the chain top */
    nr_frame *prev;
    nr_scope *entry;  /* the top at entry (borrowed from entry_handle) */
    PyObject *entry_handle; /* strong */
    bool on_thread_stack;   /* no frame: the call works on the thread's bound stack */
} nr_py_frame;

/* The ContextVar's value as it is: *value gets a new reference, or NULL when
 * unset or None.  -1 with an exception. */
int nr_py_current_value(nr_py_state *st, PyObject **value);

/* The context's current chain top as a handle (seeding the ContextVar if
 * unset).  New reference, or NULL with an exception set. */
PyObject *nr_py_current_handle(nr_py_state *st);

/* The handle of the chain top C sees now (new reference), or NULL with an
 * exception. */
PyObject *nr_py_visible_handle(void);

/* Installs the context's chain as this thread's frame.  -1 with an exception
 * set on failure (nothing installed). */
int nr_py_frame_enter(nr_py_state *st, nr_py_frame *f);

/* Uninstalls the frame and writes a changed top back to the ContextVar.
 * `hint` (borrowed, may be NULL) is a handle the caller already holds for the
 * new top.  Preserves a pending exception.  Returns -1 only if writing back
 * failed (exception set). */
int nr_py_frame_exit(nr_py_state *st, nr_py_frame *f, PyObject *hint);

/* Calls callable(*args) on behalf of the runtime (see above).  `context`
 * (may be NULL) is a Context whose copy the call runs in; NULL runs it in the
 * current context.  Needs the GIL.  New reference or NULL with exception. */
PyObject *nr_py_call_bridged(nr_py_state *st, PyObject *callable, PyObject *const *args,
                             size_t nargs, PyObject *context);

/* Sets the ContextVar to handle (None allowed).  -1 on failure. */
int nr_py_set_current(nr_py_state *st, PyObject *handle);

#endif /* NR_PY_BRIDGE_H */
