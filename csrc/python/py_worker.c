/* py_worker.c -- an elastic pool of worker threads, and loop hand-offs. */
#include "py_worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#define IDLE_SECONDS 30

/* Guards every field below. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_work = PTHREAD_COND_INITIALIZER;
static nr_py_job *g_head, *g_tail; /* queued jobs */
static int g_idle;                 /* workers waiting for a job */
static bool g_closed;              /* shutdown: no new jobs */

static void *worker_main(void *unused)
{
    (void)unused;
    /* One Python thread state for the worker's whole life: the callbacks it
     * runs take the GIL often, and a thread state made and destroyed for each
     * of them (what PyGILState does on a foreign thread) costs two mmap/munmap
     * pairs every time. */
    PyThreadState *tstate = NULL;
    PyGILState_STATE gstate = PyGILState_UNLOCKED;
    if (nr_py_alive()) {
        gstate = PyGILState_Ensure();
        tstate = PyEval_SaveThread();
    }
    nr_lock(&g_lock);
    for (;;) {
        while (g_head == NULL && !g_closed) {
            struct timespec deadline;
            clock_gettime(CLOCK_REALTIME, &deadline);
            deadline.tv_sec += IDLE_SECONDS;
            g_idle++;
            int rc = pthread_cond_timedwait(&g_work, &g_lock, &deadline);
            g_idle--;
            if (rc == ETIMEDOUT && g_head == NULL)
                goto out;
        }
        if (g_head == NULL)
            break;
        nr_py_job *job = g_head;
        g_head = job->next;
        if (g_head == NULL)
            g_tail = NULL;
        nr_unlock(&g_lock);
        job->run(job);
        nr_lock(&g_lock);
    }
out:
    nr_unlock(&g_lock);
    if (tstate != NULL && nr_py_alive()) {
        PyEval_RestoreThread(tstate);
        PyGILState_Release(gstate);
    }
    /* at interpreter shutdown the thread state is left to the process exit */
    return NULL;
}

int nr_py_worker_submit(nr_py_job *job)
{
    job->next = NULL;
    nr_lock(&g_lock);
    if (g_closed) {
        nr_unlock(&g_lock);
        PyErr_SetString(PyExc_RuntimeError, "nemo_relay is shutting down");
        return -1;
    }
    if (g_idle == 0) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &attr, worker_main, NULL);
        pthread_attr_destroy(&attr);
        if (rc != 0) {
            nr_unlock(&g_lock);
            PyErr_Format(PyExc_RuntimeError, "cannot start a worker thread (error %d)", rc);
            return -1;
        }
    }
    if (g_tail != NULL)
        g_tail->next = job;
    else
        g_head = job;
    g_tail = job;
    pthread_cond_signal(&g_work);
    nr_unlock(&g_lock);
    return 0;
}

void nr_py_worker_shutdown(void)
{
    nr_lock(&g_lock);
    g_closed = true;
    pthread_cond_broadcast(&g_work);
    nr_unlock(&g_lock);
}

static void fork_child(void)
{
    /* the workers do not exist in the child */
    pthread_mutex_init(&g_lock, NULL);
    pthread_cond_init(&g_work, NULL);
    g_head = g_tail = NULL;
    g_idle = 0;
}

static void fork_prepare(void) { nr_lock(&g_lock); }
static void fork_parent(void) { nr_unlock(&g_lock); }

PyObject *nr_py_run_on_loop(PyObject *loop, PyObject *awaitable, PyObject *context)
{
    nr_py_state *st = nr_py_get_state();
    if (st == NULL || st->run_on_loop == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "nemo_relay is shutting down");
        return NULL;
    }
    return PyObject_CallFunctionObjArgs(st->run_on_loop, loop, awaitable,
                                        context != NULL ? context : Py_None, NULL);
}

void nr_py_resolve_future(PyObject *loop, PyObject *future, PyObject *result)
{
    PyObject *exc = NULL;
    if (result == NULL) {
        PyObject *type, *tb;
        PyErr_Fetch(&type, &exc, &tb);
        PyErr_NormalizeException(&type, &exc, &tb);
        if (exc != NULL && tb != NULL)
            PyException_SetTraceback(exc, tb);
        Py_XDECREF(type);
        Py_XDECREF(tb);
    }
    nr_py_state *st = nr_py_get_state();
    PyObject *r = NULL;
    if (st == NULL || st->resolve == NULL)
        PyErr_SetString(PyExc_RuntimeError, "nemo_relay is shutting down");
    else
        r = PyObject_CallFunctionObjArgs(st->resolve, loop, future,
                                         result != NULL ? Py_True : Py_False,
                                         result != NULL ? result : (exc != NULL ? exc : Py_None),
                                         NULL);
    if (r == NULL)
        PyErr_WriteUnraisable(future); /* the loop is gone: nothing can be told */
    Py_XDECREF(r);
    Py_XDECREF(exc);
}

static void install_fork_handlers(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

int nr_py_worker_init(nr_py_state *st)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, install_fork_handlers);
    PyObject *bridge = PyImport_ImportModule("nemo_relay._bridge");
    if (bridge == NULL)
        return -1;
    st->run_on_loop = PyObject_GetAttrString(bridge, "run_on_loop");
    st->resolve = st->run_on_loop != NULL ? PyObject_GetAttrString(bridge, "resolve") : NULL;
    Py_DECREF(bridge);
    if (st->resolve == NULL)
        return -1;
    nr_lock(&g_lock);
    g_closed = false;
    nr_unlock(&g_lock);
    return 0;
}
