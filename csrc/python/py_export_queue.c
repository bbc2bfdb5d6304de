/*
 * py_export_queue.c -- EventQueue: the bounded queue between the emitting
 * threads and an exporter's drain thread (SPEC D13).
 *
 * The queue registers itself as a plain C subscriber, so an emitting thread
 * only takes the queue's lock and a reference to the event: it never enters
 * Python for an exporter.  The drain thread (Python) calls get(), which waits
 * without the GIL, and task_done() once it has handled a batch; flush waits
 * (wait_idle) also run without the GIL.
 */
#include "py_export_queue.h"

#include "nr_export_queue.h"
#include "nr_registry.h"

#include <math.h>

/* Largest batch get() hands out at once. */
#define EQ_MAX_BATCH 4096

typedef struct {
    PyObject_HEAD
    nr_export_queue *q; /* strong */
} EventQueueObject;

/* The EventQueue type (borrowed: the module keeps it alive; one module per
 * process). */
static PyTypeObject *g_event_queue_type;

static PyObject *eq_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"capacity", "close_when_unregistered", NULL};
    Py_ssize_t capacity = 2048;
    int autoclose = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|np:EventQueue", kwlist, &capacity, &autoclose))
        return NULL;
    if (capacity < 1) {
        PyErr_SetString(PyExc_ValueError, "capacity must be at least 1");
        return NULL;
    }
    EventQueueObject *self = (EventQueueObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->q = nr_export_queue_new((size_t)capacity);
    if (self->q == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    nr_export_queue_set_close_when_unregistered(self->q, autoclose != 0);
    return (PyObject *)self;
}

int nr_py_export_queue_spec(PyObject *obj, nr_callback_spec *spec)
{
    if (g_event_queue_type == NULL || !PyObject_TypeCheck(obj, g_event_queue_type))
        return 0;
    nr_export_queue *q = ((EventQueueObject *)obj)->q;
    spec->fn.subscriber = nr_export_queue_push;
    spec->user_data = nr_export_queue_registration(q);
    spec->free_fn = nr_export_queue_unregistered;
    spec->flush = NULL;
    spec->native = false; /* the push needs no GIL hand-off around emissions */
    return 1;
}

static void eq_dealloc(EventQueueObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    if (self->q != NULL) {
        nr_export_queue_close(self->q);
        nr_export_queue_release(self->q);
    }
    tp->tp_free(self);
    Py_DECREF(tp);
}

/* A timeout argument in seconds (None: forever) as microseconds (-1). */
static int eq_timeout(PyObject *obj, int64_t *out)
{
    *out = -1;
    if (obj == NULL || obj == Py_None)
        return 0;
    double s = PyFloat_AsDouble(obj);
    if (s == -1.0 && PyErr_Occurred())
        return -1;
    if (isnan(s) || s < 0) {
        PyErr_SetString(PyExc_ValueError, "timeout must be a non-negative number or None");
        return -1;
    }
    *out = s > 1e9 ? (int64_t)1e15 : (int64_t)(s * 1e6);
    return 0;
}

/* register(name): the queue becomes a global subscriber named name. */
static PyObject *eq_register(EventQueueObject *self, PyObject *name)
{
    const char *cname;
    if (nr_py_req_str(name, "name", &cname) < 0)
        return NULL;
    nr_callback_spec spec = {0};
    spec.kind = NR_MW_SUBSCRIBER;
    spec.name = cname;
    nr_py_export_queue_spec((PyObject *)self, &spec); /* takes a registration */
    nr_error err = NR_ERROR_INIT;
    if (nr_register(&spec, NULL, &err) != NEMO_RELAY_STATUS_OK) {
        nr_export_queue_unregistered(self->q); /* a failed registration took nothing */
        return nr_py_raise(&err);
    }
    Py_RETURN_NONE;
}

/* get(max_items, timeout=None) -> list of events (empty on timeout/close). */
static PyObject *eq_get(EventQueueObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"max_items", "timeout", NULL};
    Py_ssize_t max_items = 512;
    PyObject *timeout_obj = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|nO:get", kwlist, &max_items, &timeout_obj))
        return NULL;
    int64_t timeout_us;
    if (eq_timeout(timeout_obj, &timeout_us) < 0)
        return NULL;
    if (max_items < 1 || max_items > EQ_MAX_BATCH) {
        PyErr_Format(PyExc_ValueError, "max_items must be between 1 and %d", EQ_MAX_BATCH);
        return NULL;
    }
    nr_event **batch = PyMem_Malloc((size_t)max_items * sizeof *batch);
    if (batch == NULL)
        return PyErr_NoMemory();
    size_t n;
    Py_BEGIN_ALLOW_THREADS
    n = nr_export_queue_pop(self->q, batch, (size_t)max_items, timeout_us);
    Py_END_ALLOW_THREADS
    /* after module teardown there is no event type to hand them out as */
    PyObject *list = nr_py_get_state() != NULL ? PyList_New((Py_ssize_t)n) : NULL;
    for (size_t i = 0; i < n; i++) {
        PyObject *e = list != NULL ? nr_py_event_new(batch[i]) : NULL;
        nr_event_release(batch[i]); /* the Python object holds its own reference */
        if (e == NULL) {
            Py_CLEAR(list);
            continue;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, e);
    }
    PyMem_Free(batch);
    if (list == NULL) {
        nr_export_queue_done(self->q, n); /* nothing will report them */
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_RuntimeError, "nemo_relay is shutting down");
    }
    return list;
}

static PyObject *eq_task_done(EventQueueObject *self, PyObject *arg)
{
    Py_ssize_t n = PyLong_AsSsize_t(arg);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "task_done needs a count >= 0");
        return NULL;
    }
    nr_export_queue_done(self->q, (size_t)n);
    Py_RETURN_NONE;
}

/* wait_idle(timeout=None) -> bool: everything queued was handled. */
static PyObject *eq_wait_idle(EventQueueObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"timeout", NULL};
    PyObject *timeout_obj = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:wait_idle", kwlist, &timeout_obj))
        return NULL;
    int64_t timeout_us;
    if (eq_timeout(timeout_obj, &timeout_us) < 0)
        return NULL;
    bool idle;
    Py_BEGIN_ALLOW_THREADS
    idle = nr_export_queue_wait_idle(self->q, timeout_us);
    Py_END_ALLOW_THREADS
    return PyBool_FromLong(idle);
}

static PyObject *eq_close(EventQueueObject *self, PyObject *unused)
{
    (void)unused;
    nr_export_queue_close(self->q);
    Py_RETURN_NONE;
}

static PyObject *eq_take_new_drops(EventQueueObject *self, PyObject *unused)
{
    (void)unused;
    return PyLong_FromUnsignedLongLong(nr_export_queue_take_new_drops(self->q));
}

static PyObject *eq_stats(EventQueueObject *self, PyObject *unused)
{
    (void)unused;
    nr_export_queue_stats s;
    nr_export_queue_stats_get(self->q, &s);
    return Py_BuildValue("{s:n,s:n,s:n,s:K,s:K,s:O}", "queued", (Py_ssize_t)s.queued,
                         "in_flight", (Py_ssize_t)s.in_flight, "capacity",
                         (Py_ssize_t)s.capacity, "accepted", (unsigned long long)s.accepted,
                         "dropped", (unsigned long long)s.dropped, "closed",
                         s.closed ? Py_True : Py_False);
}

static PyMethodDef eq_methods[] = {
    {"register", (PyCFunction)eq_register, METH_O,
     "register(name) -> None: receive every event as a global subscriber."},
    {"get", (PyCFunction)(void (*)(void))eq_get, METH_VARARGS | METH_KEYWORDS,
     "get(max_items=512, timeout=None) -> list: the next batch (waits without the GIL)."},
    {"task_done", (PyCFunction)eq_task_done, METH_O,
     "task_done(n) -> None: n events from get() were handled."},
    {"wait_idle", (PyCFunction)(void (*)(void))eq_wait_idle, METH_VARARGS | METH_KEYWORDS,
     "wait_idle(timeout=None) -> bool: wait until everything queued was handled."},
    {"close", (PyCFunction)eq_close, METH_NOARGS,
     "close() -> None: accept no more events and wake every waiter."},
    {"take_new_drops", (PyCFunction)eq_take_new_drops, METH_NOARGS,
     "take_new_drops() -> int: events dropped since the previous call."},
    {"stats", (PyCFunction)eq_stats, METH_NOARGS,
     "stats() -> dict: queued, in_flight, capacity, accepted, dropped, closed."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot eq_slots[] = {
    {Py_tp_new, eq_new},
    {Py_tp_dealloc, eq_dealloc},
    {Py_tp_methods, eq_methods},
    {Py_tp_doc, "EventQueue(capacity=2048, close_when_unregistered=False): a bounded queue of "
                "events for an exporter's drain thread; a full queue drops and counts."},
    {0, NULL},
};

static PyType_Spec eq_spec = {"nemo_relay._native.EventQueue", sizeof(EventQueueObject), 0,
                              Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE, eq_slots};

int nr_py_export_queue_init(PyObject *module)
{
    PyTypeObject *t = (PyTypeObject *)PyType_FromModuleAndSpec(module, &eq_spec, NULL);
    if (t == NULL)
        return -1;
    g_event_queue_type = t;
    int rc = PyModule_AddType(module, t);
    Py_DECREF(t);
    return rc;
}
