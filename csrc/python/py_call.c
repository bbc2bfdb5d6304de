/* py_call.c -- tools.execute / llm.execute and their sync twins. */
#include "py_call.h"

#include "py_bridge.h"
#include "py_callbacks.h"
#include "py_convert.h"
#include "py_coro.h"
#include "py_llm_request.h"
#include "py_scope.h"
#include "py_worker.h"

#include <stdlib.h>
#include <string.h>

/* ---- environment --------------------------------------------------------------- */

nr_py_env *nr_py_env_new(PyObject *loop, PyObject *context)
{
    nr_py_env *env = calloc(1, sizeof *env);
    if (env == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    env->loop = Py_XNewRef(loop);
    env->context = Py_XNewRef(context);
    return env;
}

void nr_py_env_release(void *p)
{
    nr_py_env *env = p;
    if (env == NULL)
        return;
    if (nr_py_alive()) {
        PyGILState_STATE g = PyGILState_Ensure();
        Py_XDECREF(env->loop);
        Py_XDECREF(env->context);
        nr_py_codecs_clear(&env->codecs);
        PyGILState_Release(g);
    }
    free(env);
}

/* ---- CallState: what Python-side pieces of one call share ------------------------ */

static void callstate_dealloc(CallStateObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    Py_CLEAR(self->func);
    Py_CLEAR(self->name);
    if (self->env != NULL && self->env->state == (PyObject *)self)
        self->env->state = NULL;
    nr_call *c = self->call;
    self->call = NULL;
    nr_call_release(c);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static int callstate_traverse(CallStateObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->func);
    Py_VISIT(self->name);
    return 0;
}

static PyType_Slot callstate_slots[] = {
    {Py_tp_dealloc, callstate_dealloc},
    {Py_tp_traverse, callstate_traverse},
    {0, NULL},
};

static PyType_Spec callstate_spec = {
    "nemo_relay._CallState", sizeof(CallStateObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION, callstate_slots};

/* A new state (new reference; NULL with MemoryError) whose call is filled
 * in once nr_call_begin succeeds: the binding may run that without the GIL,
 * and the call's Python middleware finds the state through env meanwhile.
 * env is borrowed (state->env, and env->state back to the state). */
static CallStateObject *callstate_new(PyObject *func, PyObject *name, nr_call_kind kind,
                                      nr_py_env *env)
{
    nr_py_state *st = nr_py_get_state();
    CallStateObject *s = PyObject_GC_New(CallStateObject, st->CallState_Type);
    if (s == NULL)
        return NULL;
    s->call = NULL;
    s->func = Py_NewRef(func);
    s->name = Py_NewRef(name);
    s->kind = kind;
    s->env = env;
    env->state = (PyObject *)s;
    PyObject_GC_Track(s);
    return s;
}

PyObject *nr_py_call_input(nr_call_kind kind, nr_value *in)
{
    if (kind == NR_CALL_LLM)
        return nr_py_llm_request_from_value(in, "LLM request");
    return nr_py_value_to_py(in);
}

/* ---- Next and ChainStep: the onion driven from Python ------------------------------- */

typedef struct {
    PyObject_HEAD
    CallStateObject *state; /* strong */
    size_t index;           /* first chain entry still to run */
} NextObject;

typedef struct {
    nr_py_coro base;
    CallStateObject *state; /* strong */
    size_t index;           /* the chain entry this step runs */
    PyObject *input;        /* strong: what that entry receives */
    int native;             /* awaiting a native segment, whose result is JSON already */
    PyObject *caller;       /* strong str or NULL: the intercept whose next() made it */
} ChainStepObject;

static PyObject *chainstep_new(CallStateObject *state, size_t index, PyObject *input);
static PyObject *chainstep_run_sync(ChainStepObject *step);

static PyObject *next_call(NextObject *self, PyObject *args, PyObject *kwds)
{
    PyObject *input;
    if (kwds != NULL && PyDict_GET_SIZE(kwds) > 0) {
        PyErr_SetString(PyExc_TypeError, "next() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "O:next", &input))
        return NULL;
    if (self->state->kind == NR_CALL_LLM && !nr_py_is_llm_request(input)) {
        PyErr_Format(PyExc_TypeError, "next() expects an LLMRequest, not %.100s",
                     Py_TYPE(input)->tp_name);
        return NULL;
    }
    if (self->state->kind == NR_CALL_TOOL && nr_py_check_json(input) < 0)
        return NULL;
    if (self->state->env == NULL || !self->state->env->sync)
        return chainstep_new(self->state, self->index, input);
    if (self->state->call == NULL || nr_call_ended(self->state->call)) {
        PyErr_SetString(PyExc_RuntimeError,
                        "the call has already ended: next() only works while its intercept runs");
        return NULL;
    }
    PyObject *step = chainstep_new(self->state, self->index, input);
    if (step == NULL)
        return NULL;
    /* In a sync call nothing can await: the rest of the chain runs now and
     * `next` returns its value, so the intercept can wrap, inspect or retry. */
    PyObject *value = chainstep_run_sync((ChainStepObject *)step);
    Py_DECREF(step);
    return value;
}

static void next_dealloc(NextObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    Py_CLEAR(self->state);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static int next_traverse(NextObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->state);
    return 0;
}

static PyType_Slot next_slots[] = {
    {Py_tp_call, next_call},
    {Py_tp_dealloc, next_dealloc},
    {Py_tp_traverse, next_traverse},
    {Py_tp_doc, "next(input) -> awaitable: the rest of the execution chain."},
    {0, NULL},
};

static PyType_Spec next_spec = {
    "nemo_relay._Next", sizeof(NextObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION, next_slots};

/* A new `next` (new reference); takes its own reference to state. */
static PyObject *next_new(CallStateObject *state, size_t index)
{
    NextObject *n = PyObject_GC_New(NextObject, nr_py_get_state()->Next_Type);
    if (n == NULL)
        return NULL;
    n->state = (CallStateObject *)Py_NewRef(state);
    n->index = index;
    PyObject_GC_Track(n);
    return (PyObject *)n;
}

static int is_chainstep(PyObject *obj)
{
    return Py_IS_TYPE(obj, nr_py_get_state()->ChainStep_Type);
}

/* The runtime's innermost function: calls the Python function, inline. */
static NemoRelayStatus func_trampoline(void *ud, const nr_call_info *ci, nr_value *in,
                                       nr_value **out, nr_error *err)
{
    CallStateObject *state = ud;
    (void)ci;
    *out = NULL;
    PyGILState_STATE g = PyGILState_Ensure();
    NemoRelayStatus st = NEMO_RELAY_STATUS_OK;
    PyObject *arg = nr_py_call_input(state->kind, in);
    PyObject *r = arg != NULL ? nr_py_invoke_sync(state->env, state->func, &arg, 1) : NULL;
    Py_XDECREF(arg);
    if (r != NULL)
        *out = nr_py_value_checked(r); /* must be JSON; converted now if native code reads it */
    if (*out == NULL)
        st = nr_py_capture_exception(err, NULL);
    Py_XDECREF(r);
    PyGILState_Release(g);
    return st;
}

/* Runs a ChainStep inline (sync twin, worker thread): the C onion from its
 * index. */
static PyObject *chainstep_run_sync(ChainStepObject *step)
{
    step->base.state = NR_CORO_DONE;
    CallStateObject *state = step->state;
    nr_value *in = nr_py_value_wrap(step->input);
    if (in == NULL)
        return NULL;
    nr_value *out = NULL;
    nr_error err = NR_ERROR_INIT;
    PyThreadState *ts = nr_py_native_begin();
    NemoRelayStatus st =
        nr_call_execute(state->call, step->index, in, func_trampoline, state, &out, &err);
    nr_py_native_end(ts);
    nr_value_release(in);
    if (st != NEMO_RELAY_STATUS_OK)
        return nr_py_raise(&err);
    PyObject *r = nr_py_value_to_py(out);
    nr_value_release(out);
    return r;
}

/* A copy of the caller's context whose scope chain is what C sees now: the
 * context a coroutine met on a worker runs in (SPEC D5). */
PyObject *nr_py_context_for_loop(nr_py_state *st, nr_py_env *env)
{
    PyObject *h = nr_py_visible_handle();
    PyObject *ctx = h != NULL ? (env->context != NULL ? PyContext_Copy(env->context)
                                                      : PyContext_CopyCurrent())
                              : NULL;
    if (ctx != NULL) {
        if (PyContext_Enter(ctx) < 0) {
            Py_CLEAR(ctx);
        } else {
            int rc = nr_py_set_current(st, h);
            PyContext_Exit(ctx);
            if (rc < 0)
                Py_CLEAR(ctx);
        }
    }
    Py_XDECREF(h);
    return ctx;
}

/* A synchronous call met an awaitable nothing can await: closes it (so it
 * does not warn), raises TypeError and returns NULL.  Steals r. */
static PyObject *refuse_awaitable(PyObject *callable, PyObject *r)
{
    PyObject *closed = PyObject_CallMethod(r, "close", NULL);
    if (closed == NULL)
        PyErr_Clear();
    Py_XDECREF(closed);
    PyErr_Format(PyExc_TypeError,
                 "%R returned an awaitable, but this call is synchronous; awaitable Python "
                 "middleware requires an async caller (await tools.execute / llm.execute)",
                 callable);
    Py_DECREF(r);
    return NULL;
}

PyObject *nr_py_invoke_sync(nr_py_env *env, PyObject *callable, PyObject *const *args,
                            size_t nargs)
{
    nr_py_state *st = nr_py_get_state();
    PyObject *r = nr_py_call_bridged(st, callable, args, nargs, env != NULL ? env->context : NULL);
    if (r == NULL || !nr_py_is_awaitable(r))
        return r;
    if (is_chainstep(r)) {
        PyObject *v = chainstep_run_sync((ChainStepObject *)r);
        Py_DECREF(r);
        return v;
    }
    if (env != NULL && env->loop != NULL) {
        /* On a worker (a native intercept's continuation): run it on the
         * caller's loop, unless this thread is that loop's (it would wait on
         * itself). */
        PyObject *running = PyObject_CallNoArgs(st->get_running_loop);
        int on_loop = running == env->loop;
        Py_XDECREF(running);
        if (running != NULL && !on_loop) {
            PyObject *ctx = nr_py_context_for_loop(st, env);
            PyObject *v = ctx != NULL ? nr_py_run_on_loop(env->loop, r, ctx) : NULL;
            Py_XDECREF(ctx);
            Py_DECREF(r);
            return v;
        }
        PyErr_Clear();
    }
    return refuse_awaitable(callable, r);
}

NemoRelayStatus nr_py_exec_trampoline(void *ud, const nr_call_info *ci, nr_value *in,
                                      const nr_next *next, nr_value **out, nr_error *err)
{
    nr_py_cb *cb = ud;
    nr_py_env *env = ci->env;
    (void)next; /* the Python `next` continues the same chain from the same snapshot */
    *out = NULL;
    PyGILState_STATE g = PyGILState_Ensure();
    NemoRelayStatus st = NEMO_RELAY_STATUS_OK;
    CallStateObject *state = env != NULL ? (CallStateObject *)env->state : NULL;
    PyObject *r = NULL;
    if (state == NULL) {
        st = nr_error_set(err, NR_E_INTERNAL, "execution intercept called outside a managed call");
        goto done;
    }
    PyObject *args[3] = {Py_NewRef(state->name), nr_py_call_input(state->kind, in),
                         next_new(state, ci->position + 1)};
    if (args[1] != NULL && args[2] != NULL)
        r = nr_py_invoke_sync(env, cb->callable, args, 3);
    for (int i = 0; i < 3; i++)
        Py_XDECREF(args[i]);
    if (r != NULL)
        *out = nr_py_value_checked(r); /* must be JSON; converted now if native code reads it */
    if (*out == NULL)
        st = nr_py_capture_exception(err, NULL);
    Py_XDECREF(r);
done:
    PyGILState_Release(g);
    return st;
}

/* The Python callable behind a chain entry, if the entry is Python. */
static PyObject *python_entry(const nr_callback *cb) /* borrowed, or NULL */
{
    return cb->fn.execution == nr_py_exec_trampoline ? ((nr_py_cb *)cb->user_data)->callable
                                                      : NULL;
}

/* ---- native segments on a worker thread ------------------------------------------ */

typedef struct exec_job {
    nr_py_job base;
    CallStateObject *state; /* strong */
    size_t index;
    nr_value *input;        /* strong */
    PyObject *loop, *future; /* strong */
    nr_scope *visible;      /* strong: the caller's chain */
} exec_job;

/* Runs on a worker; owns the job and frees it with every reference it holds. */
static void exec_job_run(nr_py_job *j)
{
    exec_job *job = (exec_job *)j;
    nr_frame frame = {job->visible};
    nr_frame *prev = nr_frame_install(&frame);
    nr_value *out = NULL;
    nr_error err = NR_ERROR_INIT;
    NemoRelayStatus st = nr_call_execute(job->state->call, job->index, job->input, func_trampoline,
                                         job->state, &out, &err);
    nr_frame_restore(prev);
    nr_scope_release(frame.top);
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *r = st == NEMO_RELAY_STATUS_OK ? nr_py_value_to_py(out) : nr_py_raise(&err);
    nr_py_resolve_future(job->loop, job->future, r);
    Py_XDECREF(r);
    nr_value_release(out);
    nr_value_release(job->input);
    Py_DECREF(job->state);
    Py_DECREF(job->future);
    Py_DECREF(job->loop);
    PyGILState_Release(g);
    free(job);
}

/* The caller's loop, and its context captured for worker-side callbacks. */
PyObject *nr_py_caller_loop(CallStateObject *state)
{
    nr_py_env *env = state->env;
    if (env == NULL || env->loop == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "native execution intercepts need a running event loop");
        return NULL;
    }
    if (env->context == NULL && (env->context = PyContext_CopyCurrent()) == NULL)
        return NULL;
    return env->loop;
}

/* Runs the chain from `index` (a native intercept) on a worker; returns the
 * asyncio future of its result (new reference).  state and input are
 * borrowed; the job takes references of its own. */
static PyObject *submit_native_segment(CallStateObject *state, size_t index, PyObject *input)
{
    nr_py_state *st = nr_py_get_state();
    PyObject *loop = nr_py_caller_loop(state);
    if (loop == NULL)
        return NULL;
    PyObject *h = nr_py_current_handle(st);
    if (h == NULL)
        return NULL;
    exec_job *job = calloc(1, sizeof *job);
    PyObject *future = job != NULL ? PyObject_CallMethod(loop, "create_future", NULL) : NULL;
    nr_value *in = future != NULL ? nr_py_value_wrap(input) : NULL;
    if (in == NULL) {
        if (job == NULL)
            PyErr_NoMemory();
        Py_XDECREF(future);
        Py_DECREF(h);
        free(job);
        return NULL;
    }
    job->base.run = exec_job_run;
    job->state = (CallStateObject *)Py_NewRef(state);
    job->index = index;
    job->input = in;
    job->loop = Py_NewRef(loop);
    job->future = Py_NewRef(future);
    job->visible = nr_scope_ref(nr_py_handle_node(h, "current"));
    Py_DECREF(h);
    if (nr_py_worker_submit(&job->base) < 0) {
        nr_scope_release(job->visible);
        nr_value_release(in);
        Py_DECREF(job->state);
        Py_DECREF(job->loop);
        Py_DECREF(job->future);
        free(job);
        Py_DECREF(future);
        return NULL;
    }
    return future;
}

static int chainstep_start(nr_py_coro *base, PyObject **result)
{
    ChainStepObject *self = (ChainStepObject *)base;
    CallStateObject *state = self->state;
    if (nr_call_ended(state->call)) {
        PyErr_SetString(PyExc_RuntimeError,
                        "the call has already ended: next() only works while its intercept runs");
        return -1;
    }
    const nr_mw_list *list = nr_call_execution_list(state->call, false);
    PyObject *r;
    if (self->index >= list->n) {
        r = PyObject_CallOneArg(state->func, self->input);
    } else {
        PyObject *callable = python_entry(list->items[self->index]);
        if (callable == NULL) {
            /* A native intercept cannot await: it runs on a worker thread. */
            PyObject *future = submit_native_segment(state, self->index, self->input);
            if (future == NULL)
                return -1;
            self->native = 1;
            int rc = nr_py_coro_await(base, future);
            Py_DECREF(future);
            return rc;
        }
        PyObject *args[3] = {Py_NewRef(state->name), Py_NewRef(self->input),
                             next_new(state, self->index + 1)};
        r = args[2] != NULL ? PyObject_Vectorcall(callable, args, 3, NULL) : NULL;
        for (int i = 0; i < 3; i++)
            Py_XDECREF(args[i]);
    }
    if (r == NULL)
        return -1;
    if (nr_py_is_awaitable(r)) {
        int rc = nr_py_coro_await(base, r);
        Py_DECREF(r);
        return rc;
    }
    if (nr_py_check_json(r) < 0) {
        Py_DECREF(r);
        return -1;
    }
    *result = r;
    return 0;
}

static int chainstep_resume(nr_py_coro *base, PyObject *value, PyObject **result)
{
    ChainStepObject *self = (ChainStepObject *)base;
    if (value == NULL || (!self->native && nr_py_check_json(value) < 0))
        return -1;
    *result = Py_NewRef(value);
    return 0;
}

static void chainstep_abandon(nr_py_coro *base)
{
    (void)base;
}

/* A step nobody awaited: the rest of the chain (the tool itself) never ran,
 * so say so the way Python does for a coroutine. */
static void chainstep_never_awaited(nr_py_coro *base)
{
    ChainStepObject *self = (ChainStepObject *)base;
    int rc = self->caller != NULL
                 ? PyErr_WarnFormat(PyExc_RuntimeWarning, 1,
                                    "next() of intercept '%U' was never awaited (the rest of the "
                                    "chain, and the function, did not run)", self->caller)
                 : PyErr_WarnEx(PyExc_RuntimeWarning,
                                "next() of an execution intercept was never awaited (the rest "
                                "of the chain, and the function, did not run)", 1);
    if (rc < 0)
        PyErr_WriteUnraisable(NULL); /* self is being destroyed */
}

static int chainstep_traverse(nr_py_coro *base, visitproc visit, void *arg)
{
    ChainStepObject *self = (ChainStepObject *)base;
    Py_VISIT(self->state);
    Py_VISIT(self->input);
    Py_VISIT(self->caller);
    return 0;
}

static void chainstep_clear(nr_py_coro *base)
{
    ChainStepObject *self = (ChainStepObject *)base;
    Py_CLEAR(self->state);
    Py_CLEAR(self->input);
    Py_CLEAR(self->caller);
}

static const nr_py_coro_ops chainstep_ops = {chainstep_start,    chainstep_resume,
                                             chainstep_abandon,  chainstep_traverse,
                                             chainstep_clear,    chainstep_never_awaited};

/* A new ChainStep (new reference); takes its own references to state and
 * input. */
static PyObject *chainstep_new(CallStateObject *state, size_t index, PyObject *input)
{
    ChainStepObject *s = (ChainStepObject *)nr_py_coro_alloc(nr_py_get_state()->ChainStep_Type,
                                                             &chainstep_ops);
    if (s == NULL)
        return NULL;
    s->state = (CallStateObject *)Py_NewRef(state);
    s->index = index;
    s->input = Py_NewRef(input);
    s->native = 0;
    s->caller = NULL;
    /* the intercept that called next() is the entry before this one */
    if (index > 0 && state->call != NULL && !nr_call_ended(state->call)) {
        const nr_mw_list *list = nr_call_execution_list(state->call, false);
        if (index - 1 < list->n && list->items[index - 1]->name != NULL) {
            s->caller = PyUnicode_FromString(list->items[index - 1]->name);
            if (s->caller == NULL)
                PyErr_Clear(); /* only the warning's wording depends on it */
        }
    }
    PyObject_GC_Track(s);
    return (PyObject *)s;
}

/* ---- call arguments ------------------------------------------------------------- */

typedef struct call_args {
    nr_call_kind kind;
    PyObject *name;      /* strong str */
    PyObject *input;     /* strong: args, or an LLMRequest */
    PyObject *func;      /* strong */
    nr_scope *parent;    /* strong, or NULL */
    uint32_t attributes;
    nr_value *data;      /* strong or NULL */
    nr_value *metadata;  /* strong or NULL */
    PyObject *extra;     /* tool_call_id or model_name (str) or NULL */
    PyObject *codec, *rcodec; /* LLMs: codec= and response_codec=, or NULL */
} call_args;

static void call_args_clear(call_args *a)
{
    Py_CLEAR(a->name);
    Py_CLEAR(a->input);
    Py_CLEAR(a->func);
    Py_CLEAR(a->extra);
    Py_CLEAR(a->codec);
    Py_CLEAR(a->rcodec);
    nr_scope_release(a->parent);
    nr_value_release(a->data);
    nr_value_release(a->metadata);
    a->parent = NULL;
    a->data = a->metadata = NULL;
}

/* Parses (name, input, func, *, handle, attributes, data, metadata, extra).
 * check_input: check that a tool's args are JSON now (else the caller does,
 * before anything uses them). */
static int call_args_parse(call_args *a, nr_call_kind kind, const char *fname,
                           PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                           bool check_input)
{
    static const char *const tool_names[] = {"name",     "args",         "func",
                                             "handle",   "attributes",   "data",
                                             "metadata", "tool_call_id", NULL};
    static const char *const llm_names[] = {"name",       "request",  "func",
                                            "handle",     "attributes", "data",
                                            "metadata",   "model_name", "codec",
                                            "response_codec", NULL};
    PyObject *v[10] = {NULL};
    memset(a, 0, sizeof *a);
    a->kind = kind;
    if (nr_py_parse_args(fname, args, nargs, kwnames, kind == NR_CALL_TOOL ? tool_names : llm_names,
                         3, 3, v) < 0)
        return -1;
    const char *s;
    const nr_uuid *parent;
    if (nr_py_req_str(v[0], kind == NR_CALL_TOOL ? "tool name" : "LLM name", &s) < 0)
        return -1;
    if (kind == NR_CALL_LLM && !nr_py_is_llm_request(v[1])) {
        PyErr_Format(PyExc_TypeError, "request must be an LLMRequest, not %.100s",
                     Py_TYPE(v[1])->tp_name);
        return -1;
    }
    if (check_input && kind == NR_CALL_TOOL && nr_py_check_json(v[1]) < 0)
        return -1;
    if (!PyCallable_Check(v[2])) {
        PyErr_Format(PyExc_TypeError, "func must be callable, not %.100s", Py_TYPE(v[2])->tp_name);
        return -1;
    }
    if (nr_py_opt_parent(v[3], "handle", &parent) < 0 ||
        nr_py_flags(v[4], kind == NR_CALL_TOOL ? NR_FAMILY_TOOL : NR_FAMILY_LLM, &a->attributes) < 0 ||
        nr_py_opt_value(v[5], &a->data) < 0 || nr_py_opt_value(v[6], &a->metadata) < 0 ||
        nr_py_opt_str(v[7], kind == NR_CALL_TOOL ? "tool_call_id" : "model_name", &s) < 0) {
        call_args_clear(a);
        return -1;
    }
    a->name = Py_NewRef(v[0]);
    a->input = Py_NewRef(v[1]);
    a->func = Py_NewRef(v[2]);
    a->parent = parent != NULL ? nr_scope_ref(nr_py_handle_node(v[3], "handle")) : NULL;
    a->extra = v[7] != NULL && v[7] != Py_None ? Py_NewRef(v[7]) : NULL;
    if (kind == NR_CALL_LLM) {
        /* checked now, so a wrong codec fails before anything runs */
        nr_py_codecs probe;
        memset(&probe, 0, sizeof probe);
        int rc = nr_py_codecs_set(&probe, v[8], v[9]);
        nr_py_codecs_clear(&probe);
        if (rc < 0) {
            call_args_clear(a);
            return -1;
        }
        a->codec = v[8] != NULL && v[8] != Py_None ? Py_NewRef(v[8]) : NULL;
        a->rcodec = v[9] != NULL && v[9] != Py_None ? Py_NewRef(v[9]) : NULL;
    }
    return 0;
}

/* Fills spec from a (borrowed; valid while a lives). */
static int call_spec_fill(nr_call_spec *spec, const call_args *a, nr_value *input, nr_py_env *env)
{
    memset(spec, 0, sizeof *spec);
    spec->kind = a->kind;
    spec->name = PyUnicode_AsUTF8(a->name);
    spec->input = input;
    spec->parent = a->parent != NULL ? &a->parent->uuid : NULL;
    spec->attributes = a->attributes;
    spec->data = a->data;
    spec->metadata = a->metadata;
    const char *extra = a->extra != NULL ? PyUnicode_AsUTF8(a->extra) : NULL;
    if (a->kind == NR_CALL_TOOL)
        spec->tool_call_id = extra;
    else
        spec->model_name = extra;
    spec->env = env;
    spec->env_release = nr_py_env_release;
    if (a->kind == NR_CALL_LLM && (a->codec != NULL || a->rcodec != NULL)) {
        if (env->codecs.codec_obj == NULL && env->codecs.rcodec_obj == NULL &&
            nr_py_codecs_set(&env->codecs, a->codec, a->rcodec) < 0)
            return -1;
        spec->codec = nr_py_codecs_request(&env->codecs);
        spec->response_codec = nr_py_codecs_response(&env->codecs);
    }
    return spec->name != NULL ? 0 : -1;
}

/* Steps 1-3 under the caller's chain.  Consumes env on every path (the call
 * owns it once nr_call_begin ran, else it is released here).  Returns a new
 * CallState, or NULL with an exception. */
static CallStateObject *begin_call(nr_py_state *st, const call_args *a, nr_py_env *env)
{
    CallStateObject *state = callstate_new(a->func, a->name, a->kind, env);
    nr_value *input = state != NULL ? nr_py_value_wrap(a->input) : NULL;
    nr_call_spec spec;
    nr_py_frame f;
    if (input == NULL || call_spec_fill(&spec, a, input, env) < 0 ||
        nr_py_frame_enter(st, &f) < 0) {
        if (state != NULL)
            state->env = NULL;
        nr_py_env_release(env); /* never handed to a call */
        Py_CLEAR(state);
        goto done;
    }
    nr_error err = NR_ERROR_INIT;
    nr_call *call = NULL;
    PyThreadState *ts = nr_py_native_begin();
    NemoRelayStatus status = nr_call_begin(&spec, &call, &err);
    nr_py_native_end(ts);
    nr_py_frame_exit(st, &f, NULL);
    if (status == NEMO_RELAY_STATUS_OK) {
        state->call = call;
    } else {
        state->env = NULL; /* released with the failed call */
        Py_CLEAR(state);
        nr_py_raise(&err);
    }
done:
    nr_value_release(input);
    return state;
}

/* Step 5 under the caller's chain.  result is borrowed (a value of its own
 * is made); a pending exception is kept.  -1 with an exception when the
 * response codec failed (the end event is recorded as an ERROR then). */
static int end_call_with(nr_py_state *st, CallStateObject *state, nr_end_status status,
                          PyObject *result, const char *description)
{
    nr_value *value = result != NULL ? nr_py_value_wrap(result) : NULL;
    PyObject *type, *exc, *tb;
    PyErr_Fetch(&type, &exc, &tb);
    nr_py_frame f;
    bool framed = nr_py_frame_enter(st, &f) == 0;
    if (!framed)
        PyErr_Clear();
    nr_error err = NR_ERROR_INIT;
    PyThreadState *ts = nr_py_native_begin();
    NemoRelayStatus rc = nr_call_end_checked(state->call, status, value, description, &err);
    nr_py_native_end(ts);
    if (framed)
        nr_py_frame_exit(st, &f, NULL);
    nr_value_release(value);
    PyErr_Restore(type, exc, tb);
    if (rc == NEMO_RELAY_STATUS_OK)
        return 0;
    if (PyErr_Occurred()) { /* the call failed already: its error wins */
        nr_error_clear(&err);
        return 0;
    }
    nr_py_raise(&err); /* the response codec's failure */
    return -1;
}

/* Step 5 for an exception (none pending): ERROR for an Exception, UNSET for
 * other BaseExceptions (cancellation, KeyboardInterrupt), described by its
 * text. */
static void end_call_exc(nr_py_state *st, CallStateObject *state, PyObject *exc, PyObject *final)
{
    nr_end_status status =
        exc != NULL && PyObject_TypeCheck(exc, (PyTypeObject *)PyExc_Exception) ? NR_END_ERROR
                                                                               : NR_END_UNSET;
    PyObject *holder;
    const char *text = nr_py_exc_text(exc, &holder);
    end_call_with(st, state, status, final, text);
    Py_XDECREF(holder);
}

/* Step 5 for an outcome: result, or (result NULL) the pending exception,
 * which is kept.  -1 with an exception when the response codec failed. */
static int end_call(nr_py_state *st, CallStateObject *state, PyObject *result)
{
    if (result != NULL)
        return end_call_with(st, state, NR_END_OK, result, NULL);
    PyObject *type, *exc, *tb;
    PyErr_Fetch(&type, &exc, &tb);
    PyErr_NormalizeException(&type, &exc, &tb);
    end_call_exc(st, state, exc, NULL);
    PyErr_Restore(type, exc, tb);
    return 0;
}

/* ---- ExecuteCall: await tools.execute(...) ---------------------------------------- */

typedef struct {
    nr_py_coro base;
    call_args args;
    CallStateObject *state; /* once begun */
    int direct;             /* unobserved: the function runs without the pipeline */
    int chained;            /* awaiting a ChainStep, whose result is checked already */
} ExecuteCallObject;

static int execute_finish(ExecuteCallObject *self, PyObject *value, PyObject **result)
{
    nr_py_state *st = nr_py_get_state();
    if (value != NULL && !self->chained && nr_py_check_json(value) < 0)
        value = NULL;
    if (end_call(st, self->state, value) < 0 || value == NULL)
        return -1;
    *result = Py_NewRef(value);
    return 0;
}

/* Nothing registered and nobody listening: just the function (D5's zero-cost
 * path).  Returns 1 if it took the call, 0 to run the pipeline. */
static int execute_unobserved(ExecuteCallObject *self, PyObject **result, int *rc)
{
    if (nr_call_is_observed(self->args.kind))
        return 0;
    self->direct = 1;
    PyObject *r = PyObject_CallOneArg(self->args.func, self->args.input);
    if (r != NULL && nr_py_is_awaitable(r)) {
        *rc = nr_py_coro_await(&self->base, r);
        Py_DECREF(r);
        return 1;
    }
    if (r != NULL && nr_py_check_json(r) < 0)
        Py_CLEAR(r);
    *result = r;
    *rc = r != NULL ? 0 : -1;
    return 1;
}

static int execute_start(nr_py_coro *base, PyObject **result)
{
    ExecuteCallObject *self = (ExecuteCallObject *)base;
    nr_py_state *st = nr_py_get_state();
    int rc;
    if (execute_unobserved(self, result, &rc))
        return rc;
    PyObject *loop = PyObject_CallNoArgs(st->get_running_loop);
    if (loop == NULL)
        return -1;
    nr_py_env *env = nr_py_env_new(loop == Py_None ? NULL : loop, NULL);
    Py_DECREF(loop);
    if (env == NULL)
        return -1;
    self->state = begin_call(st, &self->args, env);
    if (self->state == NULL)
        return -1;
    PyObject *input = nr_py_call_input(self->args.kind, nr_call_input(self->state->call));
    if (input == NULL)
        return execute_finish(self, NULL, result);
    PyObject *r;
    self->chained = nr_call_execution_list(self->state->call, false)->n > 0;
    if (self->chained)
        r = chainstep_new(self->state, 0, input);
    else
        r = PyObject_CallOneArg(self->state->func, input);
    Py_DECREF(input);
    if (r != NULL && nr_py_is_awaitable(r)) {
        rc = nr_py_coro_await(base, r);
        Py_DECREF(r);
        if (rc == 0)
            return 0;
        r = NULL;
    }
    rc = execute_finish(self, r, result);
    Py_XDECREF(r);
    return rc;
}

static int execute_resume(nr_py_coro *base, PyObject *value, PyObject **result)
{
    ExecuteCallObject *self = (ExecuteCallObject *)base;
    if (self->direct) {
        if (value == NULL || nr_py_check_json(value) < 0)
            return -1;
        *result = Py_NewRef(value);
        return 0;
    }
    return execute_finish(self, value, result);
}

static void execute_abandon(nr_py_coro *base)
{
    ExecuteCallObject *self = (ExecuteCallObject *)base;
    if (self->state != NULL)
        nr_call_end(self->state->call, NR_END_UNSET, NULL, NULL);
}

static int execute_traverse(nr_py_coro *base, visitproc visit, void *arg)
{
    ExecuteCallObject *self = (ExecuteCallObject *)base;
    Py_VISIT(self->state);
    Py_VISIT(self->args.input);
    Py_VISIT(self->args.func);
    return 0;
}

static void execute_clear(nr_py_coro *base)
{
    ExecuteCallObject *self = (ExecuteCallObject *)base;
    Py_CLEAR(self->state);
    call_args_clear(&self->args);
}

static const nr_py_coro_ops execute_ops = {execute_start, execute_resume, execute_abandon,
                                           execute_traverse, execute_clear};

static PyObject *make_execute(nr_call_kind kind, const char *fname, PyObject *const *args,
                              Py_ssize_t nargs, PyObject *kwnames)
{
    nr_py_state *st = nr_py_get_state();
    ExecuteCallObject *self =
        (ExecuteCallObject *)nr_py_coro_alloc(st->ExecuteCall_Type, &execute_ops);
    if (self == NULL)
        return NULL;
    self->state = NULL;
    self->direct = 0;
    self->chained = 0;
    memset(&self->args, 0, sizeof self->args);
    PyObject_GC_Track(self);
    if (call_args_parse(&self->args, kind, fname, args, nargs, kwnames, true) < 0) {
        self->base.state = NR_CORO_DONE;
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static PyObject *tool_execute(PyObject *mod, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames)
{
    (void)mod;
    return make_execute(NR_CALL_TOOL, "execute", args, nargs, kwnames);
}

static PyObject *llm_execute(PyObject *mod, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames)
{
    (void)mod;
    return make_execute(NR_CALL_LLM, "execute", args, nargs, kwnames);
}

/* ---- the sync twins ----------------------------------------------------------------- */

static PyObject *execute_sync(nr_call_kind kind, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames)
{
    nr_py_state *st = nr_py_get_state();
    call_args a;
    if (call_args_parse(&a, kind, "execute_sync", args, nargs, kwnames, false) < 0)
        return NULL;
    PyObject *result = NULL;
    nr_error err = NR_ERROR_INIT;
    nr_value *input = NULL, *out = NULL;
    CallStateObject *state = NULL;
    if (!nr_call_is_observed(kind)) {
        /* Nothing native runs: call straight from the caller's context, so
         * the function sees the caller's scope chain (no C frame is installed
         * that a bridged call could read it from). */
        if (nr_py_check_json(a.input) == 0 &&
            (result = PyObject_CallOneArg(a.func, a.input)) != NULL) {
            if (nr_py_is_awaitable(result))
                result = refuse_awaitable(a.func, result);
            else if (nr_py_check_json(result) < 0)
                Py_CLEAR(result);
        }
        goto done;
    }
    /* Native code will print the args: nr_py_value_checked converts them
     * now, with the GIL; then the whole pipeline runs in one stretch without
     * it (SPEC D3). */
    input = nr_py_value_checked(a.input);
    nr_py_env *env = input != NULL ? nr_py_env_new(NULL, NULL) : NULL;
    if (env != NULL)
        env->sync = 1;
    state = env != NULL ? callstate_new(a.func, a.name, kind, env) : NULL;
    nr_call_spec spec;
    nr_py_frame f;
    if (state == NULL || call_spec_fill(&spec, &a, input, env) < 0 ||
        nr_py_frame_enter(st, &f) < 0) {
        if (state != NULL)
            state->env = NULL;
        nr_py_env_release(env); /* never handed to a call */
        goto done;
    }
    bool native = nr_registry_native_count() > 0;
    nr_call *call = NULL;
    PyThreadState *ts = native ? PyEval_SaveThread() : NULL;
    NemoRelayStatus status = nr_call_begin(&spec, &call, &err);
    if (call != NULL) {
        state->call = call;
        status = nr_call_execute(call, 0, nr_call_input(call), func_trampoline, state, &out, &err);
        status = nr_call_end_with(call, status, out, &err);
    } else {
        state->env = NULL; /* released with the failed call */
    }
    if (ts != NULL)
        PyEval_RestoreThread(ts);
    nr_py_frame_exit(st, &f, NULL);
    if (status == NEMO_RELAY_STATUS_OK)
        result = nr_py_value_to_py(out);
    else
        nr_py_raise(&err);
done:
    nr_value_release(out);
    nr_value_release(input);
    Py_XDECREF(state);
    call_args_clear(&a);
    return result;
}

static PyObject *tool_execute_sync(PyObject *mod, PyObject *const *args, Py_ssize_t nargs,
                                   PyObject *kwnames)
{
    (void)mod;
    return execute_sync(NR_CALL_TOOL, args, nargs, kwnames);
}

static PyObject *llm_execute_sync(PyObject *mod, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames)
{
    (void)mod;
    return execute_sync(NR_CALL_LLM, args, nargs, kwnames);
}

/* ---- streams: primitives for nemo_relay.llm's LlmStream ----------------------------- */

CallStateObject *nr_py_as_call_state(PyObject *obj)
{
    if (!Py_IS_TYPE(obj, nr_py_get_state()->CallState_Type)) {
        PyErr_SetString(PyExc_TypeError, "expected a call state");
        return NULL;
    }
    return (CallStateObject *)obj;
}

/* llm_stream_begin(name, request, func, *, handle, attributes, data, metadata,
 * model_name) -> call state (guardrails, request intercepts, start event done) */
static PyObject *llm_stream_begin(PyObject *mod, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames)
{
    nr_py_state *st = PyModule_GetState(mod);
    call_args a;
    if (call_args_parse(&a, NR_CALL_LLM, "stream_execute", args, nargs, kwnames, true) < 0)
        return NULL;
    PyObject *loop = PyObject_CallNoArgs(st->get_running_loop);
    nr_py_env *env = loop != NULL ? nr_py_env_new(loop == Py_None ? NULL : loop, NULL) : NULL;
    Py_XDECREF(loop);
    CallStateObject *state = env != NULL ? begin_call(st, &a, env) : NULL;
    call_args_clear(&a);
    return (PyObject *)state;
}

/* _call_input(state) -> what the function receives (after request intercepts) */
static PyObject *call_input(PyObject *mod, PyObject *obj)
{
    (void)mod;
    CallStateObject *state = nr_py_as_call_state(obj);
    return state != NULL ? nr_py_call_input(state->kind, nr_call_input(state->call)) : NULL;
}

/* _stream_entries(state) -> [callable or None (a native intercept)], outermost first */
static PyObject *stream_entries(PyObject *mod, PyObject *obj)
{
    (void)mod;
    CallStateObject *state = nr_py_as_call_state(obj);
    if (state == NULL)
        return NULL;
    const nr_mw_list *list = nr_call_execution_list(state->call, true);
    PyObject *l = PyList_New((Py_ssize_t)list->n);
    for (size_t i = 0; l != NULL && i < list->n; i++) {
        nr_callback *cb = list->items[i];
        PyObject *fn = cb->fn.stream_execution == nr_py_stream_exec_trampoline
                           ? ((nr_py_cb *)cb->user_data)->callable
                           : Py_None;
        PyList_SET_ITEM(l, (Py_ssize_t)i, Py_NewRef(fn));
    }
    return l;
}

/* llm_stream_chunk(state, chunk): checks the chunk and records an llm.chunk mark */
static PyObject *llm_stream_chunk(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    nr_py_state *st = PyModule_GetState(mod);
    CallStateObject *state = nargs == 2 ? nr_py_as_call_state(args[0]) : NULL;
    if (state == NULL)
        return nargs == 2 ? NULL : PyErr_Format(PyExc_TypeError, "llm_stream_chunk(state, chunk)");
    if (nr_py_check_json(args[1]) < 0)
        return NULL;
    nr_value *chunk = nr_py_value_wrap(args[1]);
    if (chunk == NULL)
        return NULL;
    nr_py_frame f;
    if (nr_py_frame_enter(st, &f) < 0) {
        nr_value_release(chunk);
        return NULL;
    }
    PyThreadState *ts = nr_py_native_begin();
    nr_call_stream_chunk(state->call, chunk);
    nr_py_native_end(ts);
    nr_py_frame_exit(st, &f, NULL);
    nr_value_release(chunk);
    Py_RETURN_NONE;
}

/* llm_stream_end(state, outcome, final=None): outcome is the final value
 * (OK) or an exception instance (ERROR, or UNSET for a BaseException); a
 * `final` value is recorded as the data of an UNSET end. */
static PyObject *llm_stream_end(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    nr_py_state *st = PyModule_GetState(mod);
    CallStateObject *state = (nargs == 2 || nargs == 3) ? nr_py_as_call_state(args[0]) : NULL;
    if (state == NULL)
        return (nargs == 2 || nargs == 3)
                   ? NULL
                   : PyErr_Format(PyExc_TypeError, "llm_stream_end(state, outcome, final=None)");
    PyObject *outcome = args[1];
    PyObject *final = nargs == 3 && args[2] != Py_None ? args[2] : NULL;
    if (final != NULL && nr_py_check_json(final) < 0)
        return NULL;
    if (PyExceptionInstance_Check(outcome)) {
        end_call_exc(st, state, outcome, final);
    } else {
        if (nr_py_check_json(outcome) < 0 || end_call(st, state, outcome) < 0)
            return NULL;
    }
    Py_RETURN_NONE;
}

PyMethodDef nr_py_call_methods[] = {
    {"tool_execute", (PyCFunction)(void (*)(void))tool_execute, METH_FASTCALL | METH_KEYWORDS,
     "execute(name, args, func, *, handle=None, attributes=None, data=None, metadata=None, "
     "tool_call_id=None) -> awaitable result"},
    {"tool_execute_sync", (PyCFunction)(void (*)(void))tool_execute_sync,
     METH_FASTCALL | METH_KEYWORDS, "execute_sync(...) -> result (everything on this thread)"},
    {"llm_execute", (PyCFunction)(void (*)(void))llm_execute, METH_FASTCALL | METH_KEYWORDS,
     "execute(name, request, func, *, handle=None, attributes=None, data=None, metadata=None, "
     "model_name=None) -> awaitable response"},
    {"llm_execute_sync", (PyCFunction)(void (*)(void))llm_execute_sync,
     METH_FASTCALL | METH_KEYWORDS, "execute_sync(...) -> response (everything on this thread)"},
    {"llm_stream_begin", (PyCFunction)(void (*)(void))llm_stream_begin,
     METH_FASTCALL | METH_KEYWORDS, NULL},
    {"_call_input", call_input, METH_O, NULL},
    {"_stream_entries", stream_entries, METH_O, NULL},
    {"llm_stream_chunk", (PyCFunction)(void (*)(void))llm_stream_chunk, METH_FASTCALL, NULL},
    {"llm_stream_end", (PyCFunction)(void (*)(void))llm_stream_end, METH_FASTCALL, NULL},
    {NULL, NULL, 0, NULL},
};

int nr_py_call_init(PyObject *module, nr_py_state *st)
{
    PyObject *asyncio = PyImport_ImportModule("asyncio.events");
    if (asyncio == NULL)
        return -1;
    st->get_running_loop = PyObject_GetAttrString(asyncio, "_get_running_loop");
    Py_DECREF(asyncio);
    if (st->get_running_loop == NULL)
        return -1;
    st->CallState_Type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &callstate_spec, NULL);
    st->Next_Type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &next_spec, NULL);
    st->ChainStep_Type = nr_py_coro_type(module, "nemo_relay._ChainStep", sizeof(ChainStepObject),
                                         "The rest of an execution chain (a coroutine).");
    st->ExecuteCall_Type =
        nr_py_coro_type(module, "nemo_relay._ExecuteCall", sizeof(ExecuteCallObject),
                        "A managed tool or LLM call (a coroutine).");
    if (st->CallState_Type == NULL || st->Next_Type == NULL || st->ChainStep_Type == NULL ||
        st->ExecuteCall_Type == NULL)
        return -1;
    return PyModule_AddFunctions(module, nr_py_call_methods);
}
