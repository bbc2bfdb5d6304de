/*
 * py_call.h -- managed tool and LLM calls from Python (SPEC D5).
 *
 * `await tools.execute(...)` returns an ExecuteCall coroutine.  It runs the
 * C pre-phase (guardrails, request intercepts, start event) on the caller's
 * thread, then awaits the function on the caller's loop, then runs the
 * C post-phase (end event): no thread hop.  With execution intercepts, the
 * onion is driven on the caller's loop too: a Python intercept is called
 * directly and receives a `next` whose result is a ChainStep coroutine for
 * the rest of the chain, so async intercepts and async functions are simply
 * awaited; only native (C) intercepts, which cannot await, run on a worker
 * thread.
 *
 * The sync twins (`execute_sync`) run everything on the calling thread; a
 * Python callback that returns an awaitable other than `next(...)` is an
 * error there.
 */
#ifndef NR_PY_CALL_H
#define NR_PY_CALL_H

#include "py_state.h"

#include "nr_call.h"
#include "py_codecs.h"

/* The environment of one managed call (nr_call_spec.env). */
typedef struct nr_py_env {
    PyObject *loop;    /* the caller's running loop, or NULL (sync twin) */
    PyObject *context; /* the caller's context, or NULL (sync twin: use the current one) */
    PyObject *state;   /* borrowed CallState of the call, set once it exists */
    nr_py_codecs codecs; /* LLMs: codec= and response_codec= (the call points into it) */
    int sync;          /* a sync twin: a Python intercept's `next` returns the value */
} nr_py_env;

/* What the Python-side pieces of one managed call share. */
typedef struct {
    PyObject_HEAD
    nr_call *call;     /* strong; NULL until nr_call_begin succeeds */
    PyObject *func;    /* strong: the tool/LLM function */
    PyObject *name;    /* strong str: the call's name, as the caller gave it */
    nr_call_kind kind;
    nr_py_env *env;    /* borrowed: owned by the call (NULL if it never got one) */
} CallStateObject;

/* obj as a CallState, or NULL with TypeError. */
CallStateObject *nr_py_as_call_state(PyObject *obj);

/* The caller's loop of a call (borrowed), capturing the caller's context for
 * worker-side callbacks on first use.  NULL with RuntimeError without one. */
PyObject *nr_py_caller_loop(CallStateObject *state);

/* A copy of the call's context whose scope chain is what C sees now. */
PyObject *nr_py_context_for_loop(nr_py_state *st, nr_py_env *env);

/* A new environment (NULL with MemoryError).  Freed by nr_py_env_release
 * (the nr_call_spec.env_release of the call). */
nr_py_env *nr_py_env_new(PyObject *loop, PyObject *context);
void nr_py_env_release(void *env);

/* The trampoline the runtime calls for a Python execution intercept (also
 * used to recognise Python entries of a chain). */
NemoRelayStatus nr_py_exec_trampoline(void *ud, const nr_call_info *ci, nr_value *in,
                                      const nr_next *next, nr_value **out, nr_error *err);

/* Calls a Python callable from runtime code where only synchronous results
 * are possible: a ChainStep result runs inline; any other awaitable is closed
 * and reported as a TypeError.  New reference or NULL with an exception. */
PyObject *nr_py_invoke_sync(nr_py_env *env, PyObject *callable, PyObject *const *args,
                            size_t nargs);

/* Python input for a chain of this kind: the args object, or an LLMRequest.
 * New reference, or NULL with an exception; `in` is borrowed. */
PyObject *nr_py_call_input(nr_call_kind kind, nr_value *in);

/* The trampoline for Python stream execution intercepts. */
NemoRelayStatus nr_py_stream_exec_trampoline(void *ud, const nr_call_info *ci, nr_value *request,
                                             const nr_stream_next *next,
                                             struct nr_stream **out, nr_error *err);

/* The runtime-side trampoline that calls a Python callable of this kind. */
nr_callback_fn nr_py_trampoline_for(nr_mw_kind kind);

/* Module functions (tools.* and llm.* execution). */
extern PyMethodDef nr_py_call_methods[];

/* Adds the middleware functions (registration, standalone chains, manual
 * calls) and the middleware kind numbers (MW_SUBSCRIBER, ...) to module. */
int nr_py_middleware_init(PyObject *module);

int nr_py_call_init(PyObject *module, nr_py_state *st);

#endif /* NR_PY_CALL_H */
