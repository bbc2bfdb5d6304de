/* py_coro.c -- the shared coroutine machinery. */
#include "py_coro.h"

int nr_py_is_awaitable(PyObject *obj)
{
    PyAsyncMethods *am = Py_TYPE(obj)->tp_as_async;
    return am != NULL && am->am_await != NULL;
}

int nr_py_coro_await(nr_py_coro *self, PyObject *awaitable)
{
    PyAsyncMethods *am = Py_TYPE(awaitable)->tp_as_async;
    if (am == NULL || am->am_await == NULL) {
        PyErr_Format(PyExc_TypeError, "object %.100s can't be used in 'await' expression",
                     Py_TYPE(awaitable)->tp_name);
        return -1;
    }
    PyObject *it = am->am_await(awaitable);
    if (it == NULL)
        return -1;
    Py_XSETREF(self->awaiting, it);
    return 0;
}

/* Runs continuations until the coroutine yields, returns or fails.  rc and
 * result are the outcome of the step that just ran. */
static PySendResult drive(nr_py_coro *self, int rc, PyObject *result, PyObject **presult)
{
    for (;;) {
        if (rc < 0) {
            self->state = NR_CORO_DONE;
            Py_CLEAR(self->awaiting);
            return PYGEN_ERROR;
        }
        if (result != NULL || self->awaiting == NULL) {
            self->state = NR_CORO_DONE;
            *presult = result != NULL ? result : Py_NewRef(Py_None);
            return PYGEN_RETURN;
        }
        PyObject *v = NULL;
        PySendResult r = PyIter_Send(self->awaiting, Py_None, &v);
        if (r == PYGEN_NEXT) {
            *presult = v;
            return PYGEN_NEXT;
        }
        Py_CLEAR(self->awaiting);
        rc = self->ops->resume(self, r == PYGEN_RETURN ? v : NULL, &result);
        Py_XDECREF(v);
    }
}

static PySendResult coro_send_impl(nr_py_coro *self, PyObject *arg, PyObject **presult)
{
    PyObject *result = NULL;
    int rc;
    *presult = NULL;
    if (self->state == NR_CORO_DONE) {
        PyErr_SetString(PyExc_RuntimeError, "cannot reuse already awaited coroutine");
        return PYGEN_ERROR;
    }
    if (self->state == NR_CORO_INIT) {
        if (arg != Py_None) {
            PyErr_SetString(PyExc_TypeError,
                            "can't send non-None value to a just-started coroutine");
            return PYGEN_ERROR;
        }
        self->state = NR_CORO_RUNNING;
        rc = self->ops->start(self, &result);
        return drive(self, rc, result, presult);
    }
    PyObject *v = NULL;
    PySendResult r = PyIter_Send(self->awaiting, arg, &v);
    if (r == PYGEN_NEXT) {
        *presult = v;
        return PYGEN_NEXT;
    }
    Py_CLEAR(self->awaiting);
    rc = self->ops->resume(self, r == PYGEN_RETURN ? v : NULL, &result);
    Py_XDECREF(v);
    return drive(self, rc, result, presult);
}

static PySendResult coro_am_send(PyObject *self, PyObject *arg, PyObject **presult)
{
    return coro_send_impl((nr_py_coro *)self, arg, presult);
}

/* StopIteration(value) without unpacking tuples. */
static void set_stop_iteration(PyObject *value)
{
    if (value == Py_None) {
        PyErr_SetNone(PyExc_StopIteration);
        return;
    }
    PyObject *exc = PyObject_CallOneArg(PyExc_StopIteration, value);
    if (exc != NULL) {
        PyErr_SetObject(PyExc_StopIteration, exc);
        Py_DECREF(exc);
    }
}

static PyObject *finish_send(PySendResult r, PyObject *value)
{
    if (r == PYGEN_NEXT)
        return value;
    if (r == PYGEN_RETURN) {
        set_stop_iteration(value);
        Py_DECREF(value);
    }
    return NULL;
}

static PyObject *coro_iternext(PyObject *self)
{
    PyObject *v;
    PySendResult r = coro_send_impl((nr_py_coro *)self, Py_None, &v);
    return finish_send(r, v);
}

static PyObject *coro_send(PyObject *self, PyObject *arg)
{
    PyObject *v;
    PySendResult r = coro_send_impl((nr_py_coro *)self, arg, &v);
    return finish_send(r, v);
}

static PyObject *coro_throw(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    nr_py_coro *self = (nr_py_coro *)op;
    if (nargs < 1 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "throw expected 1 to 3 arguments");
        return NULL;
    }
    if (self->state == NR_CORO_RUNNING && self->awaiting != NULL) {
        PyObject *meth = PyObject_GetAttrString(self->awaiting, "throw");
        if (meth == NULL) {
            PyErr_Clear();
            Py_CLEAR(self->awaiting); /* it cannot take the exception: we do */
        } else {
            PyObject *yielded = PyObject_Vectorcall(meth, args, (size_t)nargs, NULL);
            Py_DECREF(meth);
            if (yielded != NULL)
                return yielded; /* the awaited object handled it and yielded again */
            PyObject *result = NULL, *value = NULL;
            int rc;
            Py_CLEAR(self->awaiting);
            if (PyErr_ExceptionMatches(PyExc_StopIteration)) {
                PyObject *t, *v, *tb;
                PyErr_Fetch(&t, &v, &tb);
                PyErr_NormalizeException(&t, &v, &tb);
                value = v != NULL ? PyObject_GetAttrString(v, "value") : Py_NewRef(Py_None);
                Py_XDECREF(t);
                Py_XDECREF(v);
                Py_XDECREF(tb);
                if (value == NULL)
                    return NULL;
                rc = self->ops->resume(self, value, &result);
                Py_DECREF(value);
            } else {
                rc = self->ops->resume(self, NULL, &result);
            }
            PyObject *v2 = NULL;
            PySendResult r = drive(self, rc, result, &v2);
            return finish_send(r, v2);
        }
    }
    /* raise the exception here */
    PyObject *typ = args[0], *val = nargs > 1 ? args[1] : NULL, *tb = nargs > 2 ? args[2] : NULL;
    if (PyExceptionInstance_Check(typ)) {
        PyErr_SetObject((PyObject *)Py_TYPE(typ), typ);
    } else if (PyExceptionClass_Check(typ)) {
        if (val != NULL && val != Py_None)
            PyErr_SetObject(typ, val);
        else
            PyErr_SetNone(typ);
    } else {
        PyErr_SetString(PyExc_TypeError, "exceptions must be classes or instances deriving from BaseException");
        return NULL;
    }
    (void)tb;
    if (self->state != NR_CORO_RUNNING) {
        self->state = NR_CORO_DONE;
        return NULL;
    }
    PyObject *result = NULL, *v2 = NULL;
    int rc = self->ops->resume(self, NULL, &result);
    PySendResult r = drive(self, rc, result, &v2);
    return finish_send(r, v2);
}

static PyObject *coro_close(PyObject *op, PyObject *unused)
{
    (void)unused;
    nr_py_coro *self = (nr_py_coro *)op;
    if (self->state == NR_CORO_RUNNING) {
        self->state = NR_CORO_DONE;
        if (self->awaiting != NULL) {
            PyObject *r = PyObject_CallMethod(self->awaiting, "close", NULL);
            if (r == NULL)
                PyErr_Clear(); /* not every awaitable iterator can be closed */
            Py_XDECREF(r);
            Py_CLEAR(self->awaiting);
        }
        self->ops->abandon(self);
    }
    self->state = NR_CORO_DONE;
    Py_RETURN_NONE;
}

static PyObject *coro_await(PyObject *self)
{
    return Py_NewRef(self);
}

static int coro_traverse(PyObject *op, visitproc visit, void *arg)
{
    nr_py_coro *self = (nr_py_coro *)op;
    Py_VISIT(Py_TYPE(op));
    Py_VISIT(self->awaiting);
    return self->ops != NULL && self->ops->traverse != NULL ? self->ops->traverse(self, visit, arg)
                                                            : 0;
}

static int coro_clear(PyObject *op)
{
    nr_py_coro *self = (nr_py_coro *)op;
    Py_CLEAR(self->awaiting);
    if (self->ops != NULL && self->ops->clear != NULL)
        self->ops->clear(self);
    return 0;
}

static void coro_dealloc(PyObject *op)
{
    nr_py_coro *self = (nr_py_coro *)op;
    PyTypeObject *tp = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    if (self->state == NR_CORO_RUNNING && self->ops != NULL) {
        /* destroyed mid-flight (e.g. a cancelled task collected): finish the
         * call's bookkeeping without raising */
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        self->state = NR_CORO_DONE;
        Py_CLEAR(self->awaiting);
        self->ops->abandon(self);
        PyErr_Restore(t, v, tb);
    } else if (self->state == NR_CORO_INIT && self->ops != NULL && self->ops->never_awaited != NULL) {
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        self->state = NR_CORO_DONE;
        self->ops->never_awaited(self);
        PyErr_Restore(t, v, tb);
    }
    coro_clear(op);
    tp->tp_free(op);
    Py_DECREF(tp);
}

static PyMethodDef coro_methods[] = {
    {"send", coro_send, METH_O, "Send a value into the coroutine."},
    {"throw", (PyCFunction)(void (*)(void))coro_throw, METH_FASTCALL,
     "Raise an exception inside the coroutine."},
    {"close", coro_close, METH_NOARGS, "Close the coroutine."},
    {NULL, NULL, 0, NULL},
};

nr_py_coro *nr_py_coro_alloc(PyTypeObject *type, const nr_py_coro_ops *ops)
{
    nr_py_coro *self = PyObject_GC_New(nr_py_coro, type);
    if (self == NULL)
        return NULL;
    self->ops = ops;
    self->awaiting = NULL;
    self->state = NR_CORO_INIT;
    return self;
}

PyTypeObject *nr_py_coro_type(PyObject *module, const char *name, Py_ssize_t basicsize,
                              const char *doc)
{
    PyType_Slot slots[] = {
        {Py_am_await, coro_await},
        {Py_am_send, coro_am_send},
        {Py_tp_iter, PyObject_SelfIter},
        {Py_tp_iternext, coro_iternext},
        {Py_tp_methods, coro_methods},
        {Py_tp_dealloc, coro_dealloc},
        {Py_tp_traverse, coro_traverse},
        {Py_tp_clear, coro_clear},
        {Py_tp_doc, (void *)doc},
        {0, NULL},
    };
    PyType_Spec spec = {name, (int)basicsize, 0,
                        Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE |
                            Py_TPFLAGS_DISALLOW_INSTANTIATION,
                        slots};
    return (PyTypeObject *)PyType_FromModuleAndSpec(module, &spec, NULL);
}
