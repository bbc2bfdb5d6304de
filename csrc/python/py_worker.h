/*
 * py_worker.h -- worker threads for native code that must not block the
 * event loop (SPEC D5).
 *
 * A native execution intercept or stream cannot await: when an async call
 * reaches one, that part of the chain runs on a worker thread while the
 * caller's task awaits a future.  The pool grows when every worker is busy
 * (workers may themselves wait for coroutines on the loop, so a fixed size
 * could deadlock) and idle workers exit after a while.
 */
#ifndef NR_PY_WORKER_H
#define NR_PY_WORKER_H

#include "py_state.h"

typedef struct nr_py_job {
    /* Runs on a worker thread without the GIL; owns and frees the job. */
    void (*run)(struct nr_py_job *job);
    struct nr_py_job *next;
} nr_py_job;

/* Queues job.  -1 with RuntimeError if the pool is shut down or no thread
 * could be started (the job was not taken). */
int nr_py_worker_submit(nr_py_job *job);

/* Stops accepting jobs (interpreter shutdown). */
void nr_py_worker_shutdown(void);

/* Awaits `awaitable` on `loop` from a thread that is not the loop's, running
 * it as a task in `context` (may be NULL), and blocks (GIL released) until it
 * finishes.  Needs the GIL.  New reference or NULL with the exception. */
PyObject *nr_py_run_on_loop(PyObject *loop, PyObject *awaitable, PyObject *context);

/* Completes an asyncio future from any thread (GIL held): result, or (result
 * NULL) the pending exception, which is consumed.  A cancelled future is left
 * alone. */
void nr_py_resolve_future(PyObject *loop, PyObject *future, PyObject *result);

int nr_py_worker_init(nr_py_state *st);

#endif /* NR_PY_WORKER_H */
