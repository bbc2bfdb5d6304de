/*
 * py_stream.c -- LLM streams that pass through native stream intercepts.
 *
 * nemo_relay/llm.py drives a stream chain from Python until it meets a
 * native stream intercept; from there the C onion (nr_call_open_stream) runs
 * on a worker thread, because native code polls synchronously.  This file
 * bridges both ways:
 *   - a Python async iterator (the stream function's, or a Python intercept's
 *     reached from native code) becomes an nr_stream whose poll runs
 *     __anext__ on the caller's loop and waits for it (on a worker);
 *   - a runtime nr_stream becomes a StreamHandle that Python polls through
 *     futures resolved by worker threads (never blocking the loop).
 */
#include "py_bridge.h"
#include "py_call.h"
#include "py_callbacks.h"
#include "py_convert.h"
#include "py_llm_request.h"
#include "py_scope.h"
#include "py_worker.h"

#include "nr_stream.h"

#include <pthread.h>
#include <stdlib.h>

/* ---- Python async iterators as runtime streams ------------------------------------- */

typedef struct py_source {
    PyObject *iterator; /* strong; touched only with the GIL */
    PyObject *loop;     /* strong */
    PyObject *context;  /* strong: where __anext__ runs */
} py_source;

static NemoRelayStatus source_poll(void *ud, nr_value **chunk, nr_error *err)
{
    py_source *src = ud;
    *chunk = NULL;
    PyGILState_STATE g = PyGILState_Ensure();
    NemoRelayStatus st = NEMO_RELAY_STATUS_OK;
    PyObject *coro = PyObject_CallMethod(src->iterator, "__anext__", NULL);
    PyObject *v = coro != NULL ? nr_py_run_on_loop(src->loop, coro, src->context) : NULL;
    Py_XDECREF(coro);
    if (v == NULL && PyErr_ExceptionMatches(PyExc_StopAsyncIteration)) {
        PyErr_Clear();
        st = NEMO_RELAY_STATUS_STREAM_END;
    } else if (v == NULL || (*chunk = nr_py_value_checked(v)) == NULL) {
        st = nr_py_capture_exception(err, NULL);
    }
    Py_XDECREF(v);
    PyGILState_Release(g);
    return st;
}

static void source_cancel(void *ud)
{
    py_source *src = ud;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *aclose = PyObject_GetAttrString(src->iterator, "aclose");
    PyObject *coro = aclose != NULL ? PyObject_CallNoArgs(aclose) : NULL;
    PyObject *r = coro != NULL ? nr_py_run_on_loop(src->loop, coro, src->context) : NULL;
    if (r == NULL)
        PyErr_Clear(); /* a stream that cannot be closed is simply dropped */
    Py_XDECREF(r);
    Py_XDECREF(coro);
    Py_XDECREF(aclose);
    PyGILState_Release(g);
}

static void source_drop(void *ud)
{
    py_source *src = ud;
    if (nr_py_alive()) {
        PyGILState_STATE g = PyGILState_Ensure();
        Py_DECREF(src->iterator);
        Py_DECREF(src->loop);
        Py_XDECREF(src->context);
        PyGILState_Release(g);
    }
    free(src);
}

static const nr_stream_ops source_ops = {source_poll, source_cancel, source_drop};

/* What a stream function or intercept returned (an async iterator, or an
 * awaitable of one, already awaited by nr_py_invoke_sync) as a runtime
 * stream.  GIL held; *out NULL with an exception on failure. */
static NemoRelayStatus source_new(nr_py_env *env, PyObject *value, nr_stream **out, nr_error *err)
{
    *out = NULL;
    if (!PyObject_HasAttrString(value, "__anext__")) {
        PyErr_Format(PyExc_TypeError, "a stream must be an async iterator, not %.100s",
                     Py_TYPE(value)->tp_name);
        return nr_py_capture_exception(err, NULL);
    }
    py_source *src = malloc(sizeof *src);
    if (src == NULL) {
        PyErr_NoMemory();
        return nr_py_capture_exception(err, NULL);
    }
    src->iterator = Py_NewRef(value);
    src->loop = Py_NewRef(env->loop);
    src->context = nr_py_context_for_loop(nr_py_get_state(), env);
    if (src->context == NULL)
        PyErr_Clear();
    *out = nr_stream_new(&source_ops, src, err);
    return *out != NULL ? NEMO_RELAY_STATUS_OK : (err != NULL ? err->status : NEMO_RELAY_STATUS_INTERNAL);
}

/* The innermost stream function: the caller's func(request), on a worker. */
static NemoRelayStatus stream_fn(void *ud, const nr_call_info *ci, nr_value *request,
                                 nr_stream **out, nr_error *err)
{
    CallStateObject *state = ud;
    (void)ci;
    *out = NULL;
    PyGILState_STATE g = PyGILState_Ensure();
    NemoRelayStatus st;
    PyObject *req = nr_py_llm_request_from_value(request, "LLM request");
    PyObject *r = req != NULL ? nr_py_invoke_sync(state->env, state->func, &req, 1) : NULL;
    Py_XDECREF(req);
    st = r != NULL ? source_new(state->env, r, out, err) : nr_py_capture_exception(err, NULL);
    Py_XDECREF(r);
    PyGILState_Release(g);
    return st;
}

static void state_retain(void *ud)
{
    PyGILState_STATE g = PyGILState_Ensure();
    Py_INCREF((PyObject *)ud);
    PyGILState_Release(g);
}

static void state_release(void *ud)
{
    if (!nr_py_alive())
        return;
    PyGILState_STATE g = PyGILState_Ensure();
    Py_DECREF((PyObject *)ud);
    PyGILState_Release(g);
}

/* ---- StreamHandle: a runtime stream seen from Python ------------------------------------ */

typedef struct {
    PyObject_HEAD
    nr_stream *stream;   /* NULL once closed */
    pthread_mutex_t lock; /* guards `stream` against a close racing a poll */
    bool busy;            /* a poll or close is running on a worker */
} StreamHandleObject;

static PyTypeObject *handle_type(void);

static PyObject *handle_new(nr_stream *s)
{
    StreamHandleObject *h = PyObject_New(StreamHandleObject, handle_type());
    if (h == NULL) {
        nr_stream_close(s);
        return NULL;
    }
    h->stream = s;
    pthread_mutex_init(&h->lock, NULL);
    h->busy = false;
    return (PyObject *)h;
}

/* Jobs: open, poll, close.  Each resolves an asyncio future. */
typedef enum { JOB_OPEN, JOB_POLL, JOB_CLOSE } job_kind;

typedef struct stream_job {
    nr_py_job base;
    job_kind kind;
    PyObject *loop, *future;      /* strong */
    CallStateObject *state;       /* open: strong */
    size_t index;                 /* open */
    nr_value *request;            /* open */
    nr_scope *visible;            /* open: the caller's chain, strong */
    StreamHandleObject *handle;   /* poll/close: strong */
} stream_job;

static void job_free(stream_job *job)
{
    Py_XDECREF(job->loop);
    Py_XDECREF(job->future);
    Py_XDECREF(job->state);
    Py_XDECREF(job->handle);
    nr_value_release(job->request);
    nr_scope_release(job->visible);
    free(job);
}

static void stream_job_run(nr_py_job *j)
{
    stream_job *job = (stream_job *)j;
    nr_error err = NR_ERROR_INIT;
    NemoRelayStatus st = NEMO_RELAY_STATUS_OK;
    nr_stream *opened = NULL;
    nr_value *chunk = NULL;
    if (job->kind == JOB_OPEN) {
        nr_frame frame = {nr_scope_ref(job->visible)};
        nr_frame *prev = nr_frame_install(&frame);
        st = nr_call_open_stream(job->state->call, job->index, job->request, stream_fn, job->state,
                                 state_retain, state_release, &opened, &err);
        nr_frame_restore(prev);
        nr_scope_release(frame.top);
    } else {
        StreamHandleObject *h = job->handle;
        nr_lock(&h->lock);
        nr_stream *s = h->stream;
        if (job->kind == JOB_CLOSE)
            h->stream = NULL;
        nr_unlock(&h->lock);
        if (job->kind == JOB_CLOSE)
            nr_stream_close(s);
        else if (s == NULL)
            st = NEMO_RELAY_STATUS_STREAM_END;
        else
            st = nr_stream_poll(s, &chunk, &err);
        nr_lock(&h->lock);
        h->busy = false;
        nr_unlock(&h->lock);
    }
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *r = NULL;
    if (job->kind == JOB_OPEN)
        r = st == NEMO_RELAY_STATUS_OK ? handle_new(opened) : nr_py_raise(&err);
    else if (job->kind == JOB_CLOSE)
        r = Py_NewRef(Py_None);
    else if (st == NEMO_RELAY_STATUS_STREAM_END)
        r = Py_BuildValue("(OO)", Py_True, Py_None);
    else if (st == NEMO_RELAY_STATUS_OK) {
        PyObject *v = nr_py_value_to_py(chunk);
        r = v != NULL ? Py_BuildValue("(ON)", Py_False, v) : NULL;
    } else
        r = nr_py_raise(&err);
    nr_value_release(chunk);
    nr_py_resolve_future(job->loop, job->future, r);
    Py_XDECREF(r);
    job_free(job);
    PyGILState_Release(g);
}

static PyObject *submit(stream_job *job, PyObject *loop)
{
    job->base.run = stream_job_run;
    job->loop = Py_NewRef(loop);
    job->future = PyObject_CallMethod(loop, "create_future", NULL);
    if (job->future == NULL) {
        job_free(job);
        return NULL;
    }
    PyObject *future = Py_NewRef(job->future);
    if (nr_py_worker_submit(&job->base) < 0) {
        job_free(job);
        Py_DECREF(future);
        return NULL;
    }
    return future;
}

/* _open_stream_from(state, index, request) -> future of a StreamHandle */
static PyObject *open_stream_from(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    nr_py_state *st = PyModule_GetState(mod);
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "_open_stream_from(state, index, request)");
        return NULL;
    }
    CallStateObject *state = nr_py_as_call_state(args[0]);
    Py_ssize_t index = state != NULL ? PyLong_AsSsize_t(args[1]) : -1;
    if (index < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "index must be >= 0");
        return NULL;
    }
    if (!nr_py_is_llm_request(args[2])) {
        PyErr_SetString(PyExc_TypeError, "next() expects an LLMRequest");
        return NULL;
    }
    PyObject *loop = nr_py_caller_loop(state);
    PyObject *h = loop != NULL ? nr_py_current_handle(st) : NULL;
    stream_job *job = h != NULL ? calloc(1, sizeof *job) : NULL;
    if (job == NULL) {
        Py_XDECREF(h);
        return h != NULL ? PyErr_NoMemory() : NULL;
    }
    job->kind = JOB_OPEN;
    job->state = (CallStateObject *)Py_NewRef(state);
    job->index = (size_t)index;
    job->request = nr_py_value_wrap(args[2]);
    job->visible = nr_scope_ref(nr_py_handle_node(h, "current"));
    Py_DECREF(h);
    if (job->request == NULL) {
        job_free(job);
        return NULL;
    }
    return submit(job, loop);
}

static PyObject *handle_job(PyObject *handle, PyObject *loop, job_kind kind)
{
    if (!Py_IS_TYPE(handle, handle_type())) {
        PyErr_SetString(PyExc_TypeError, "expected a stream handle");
        return NULL;
    }
    StreamHandleObject *h = (StreamHandleObject *)handle;
    nr_lock(&h->lock);
    bool busy = h->busy;
    if (!busy)
        h->busy = true;
    nr_unlock(&h->lock);
    if (busy) {
        PyErr_SetString(PyExc_RuntimeError, "the stream is already being polled or closed");
        return NULL;
    }
    stream_job *job = calloc(1, sizeof *job);
    if (job == NULL) {
        nr_lock(&h->lock);
        h->busy = false;
        nr_unlock(&h->lock);
        return PyErr_NoMemory();
    }
    job->kind = kind;
    job->handle = (StreamHandleObject *)Py_NewRef(handle);
    return submit(job, loop);
}

/* _stream_poll(handle, loop) -> future of (done, chunk) */
static PyObject *stream_poll(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    (void)mod;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "_stream_poll(handle, loop)");
        return NULL;
    }
    return handle_job(args[0], args[1], JOB_POLL);
}

/* _stream_close(handle, loop) -> future of None */
static PyObject *stream_close(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    (void)mod;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "_stream_close(handle, loop)");
        return NULL;
    }
    return handle_job(args[0], args[1], JOB_CLOSE);
}

static void handle_dealloc(StreamHandleObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    nr_stream *s = self->stream;
    self->stream = NULL;
    if (s != NULL) {
        /* Dropped unclosed: close it here.  Its producers may need the loop
         * (a Python source cancels by awaiting aclose), so let go of the GIL. */
        PyThreadState *ts = PyEval_SaveThread();
        nr_stream_close(s);
        PyEval_RestoreThread(ts);
    }
    pthread_mutex_destroy(&self->lock);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyType_Slot handle_slots[] = {
    {Py_tp_dealloc, handle_dealloc},
    {Py_tp_doc, "A stream produced by native stream execution intercepts."},
    {0, NULL},
};

static PyType_Spec handle_spec = {"nemo_relay._StreamHandle", sizeof(StreamHandleObject), 0,
                                  Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
                                  handle_slots};

static PyTypeObject *handle_type(void)
{
    return nr_py_get_state()->StreamHandle_Type;
}

/* ---- Python stream intercepts reached from native code -------------------------------------- */

/* nemo_relay.llm._native_next(state, index): the `next` such an intercept
 * gets (it awaits to an async iterator over the rest of the chain).  The
 * function is looked up on first use (nemo_relay.llm imports this module). */
static PyObject *native_next(CallStateObject *state, size_t index)
{
    nr_py_state *st = nr_py_get_state();
    if (st == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "nemo_relay is shutting down");
        return NULL;
    }
    if (st->native_next == NULL) {
        PyObject *llm = PyImport_ImportModule("nemo_relay.llm");
        if (llm == NULL)
            return NULL;
        st->native_next = PyObject_GetAttrString(llm, "_native_next");
        Py_DECREF(llm);
        if (st->native_next == NULL)
            return NULL;
    }
    PyObject *i = PyLong_FromSize_t(index);
    PyObject *args[2] = {(PyObject *)state, i};
    PyObject *r = i != NULL ? PyObject_Vectorcall(st->native_next, args, 2, NULL) : NULL;
    Py_XDECREF(i);
    return r;
}

NemoRelayStatus nr_py_stream_exec_trampoline(void *ud, const nr_call_info *ci, nr_value *request,
                                             const nr_stream_next *next,
                                             struct nr_stream **out, nr_error *err)
{
    nr_py_cb *cb = ud;
    nr_py_env *env = ci->env;
    (void)next; /* the Python next reopens the same chain from the same snapshot */
    *out = NULL;
    PyGILState_STATE g = PyGILState_Ensure();
    NemoRelayStatus status;
    CallStateObject *state = env != NULL ? (CallStateObject *)env->state : NULL;
    if (state == NULL) {
        status = nr_error_set(err, NR_E_INTERNAL, "stream intercept called outside a managed call");
        goto done;
    }
    PyObject *nx = native_next(state, ci->position + 1);
    PyObject *req = nx != NULL ? nr_py_llm_request_from_value(request, "LLM request") : NULL;
    PyObject *r = NULL;
    if (req != NULL) {
        PyObject *args[2] = {req, nx};
        r = nr_py_invoke_sync(env, cb->callable, args, 2);
    }
    Py_XDECREF(req);
    Py_XDECREF(nx);
    status = r != NULL ? source_new(env, r, (nr_stream **)out, err) : nr_py_capture_exception(err, NULL);
    Py_XDECREF(r);
done:
    PyGILState_Release(g);
    return status;
}

static PyMethodDef stream_methods[] = {
    {"_open_stream_from", (PyCFunction)(void (*)(void))open_stream_from, METH_FASTCALL, NULL},
    {"_stream_poll", (PyCFunction)(void (*)(void))stream_poll, METH_FASTCALL, NULL},
    {"_stream_close", (PyCFunction)(void (*)(void))stream_close, METH_FASTCALL, NULL},
    {NULL, NULL, 0, NULL},
};

int nr_py_stream_init(PyObject *module, nr_py_state *st)
{
    st->StreamHandle_Type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &handle_spec, NULL);
    if (st->StreamHandle_Type == NULL)
        return -1;
    return PyModule_AddFunctions(module, stream_methods);
}
