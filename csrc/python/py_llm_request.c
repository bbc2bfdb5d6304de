/* py_llm_request.c -- the LLMRequest type. */
#include "py_llm_request.h"

#include "py_convert.h"

typedef struct {
    PyObject_HEAD
    PyObject *headers; /* a private dict, never handed out */
    PyObject *content; /* a private JSON-compatible value, never handed out */
    cJSON *content_json; /* owned: content as JSON, made on first need (codecs), or NULL */
} LLMRequestObject;

int nr_py_is_llm_request(PyObject *obj)
{
    nr_py_state *st = nr_py_get_state();
    return st != NULL && Py_IS_TYPE(obj, st->LLMRequest_Type);
}

void nr_py_llm_request_parts(PyObject *obj, PyObject **headers, PyObject **content)
{
    *headers = ((LLMRequestObject *)obj)->headers;
    *content = ((LLMRequestObject *)obj)->content;
}

static PyObject *make(PyTypeObject *type, PyObject *headers, PyObject *content)
{
    if (!PyDict_Check(headers)) {
        PyErr_Format(PyExc_TypeError, "headers: '%.100s' object is not an instance of 'dict'",
                     Py_TYPE(headers)->tp_name);
        return NULL;
    }
    PyObject *h = nr_py_json_copy(headers);
    PyObject *c = h != NULL ? nr_py_json_copy(content) : NULL;
    if (c == NULL) {
        Py_XDECREF(h);
        return NULL;
    }
    LLMRequestObject *self = (LLMRequestObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        Py_DECREF(h);
        Py_DECREF(c);
        return NULL;
    }
    self->headers = h;
    self->content = c;
    return (PyObject *)self;
}

const cJSON *nr_py_llm_request_content_json(PyObject *obj)
{
    LLMRequestObject *self = (LLMRequestObject *)obj;
    if (self->content_json == NULL)
        self->content_json = nr_py_to_cjson(self->content);
    return self->content_json;
}

PyObject *nr_py_llm_request_adopt(PyObject *headers, PyObject *content, cJSON *content_json)
{
    PyTypeObject *type = nr_py_get_state()->LLMRequest_Type;
    LLMRequestObject *self = (LLMRequestObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        Py_DECREF(headers);
        Py_DECREF(content);
        cJSON_Delete(content_json);
        return NULL;
    }
    self->headers = headers;
    self->content = content;
    self->content_json = content_json;
    return (PyObject *)self;
}

PyObject *nr_py_llm_request_new(PyObject *headers, PyObject *content)
{
    return make(nr_py_get_state()->LLMRequest_Type, headers, content);
}

PyObject *nr_py_llm_request_from_value(nr_value *v, const char *what)
{
    PyObject *obj = nr_value_foreign(v, &nr_py_value_ops);
    if (obj != NULL && nr_py_is_llm_request(obj))
        return Py_NewRef(obj);
    PyObject *d = nr_py_value_to_py(v);
    if (d == NULL)
        return NULL;
    PyObject *h = PyDict_Check(d) ? PyDict_GetItemString(d, "headers") : NULL;
    PyObject *c = PyDict_Check(d) ? PyDict_GetItemString(d, "content") : NULL;
    PyObject *r = NULL;
    if (h == NULL || c == NULL || !PyDict_Check(h))
        PyErr_Format(PyExc_ValueError,
                     "%s was not an LLM request (expected {\"headers\": {...}, \"content\": ...})",
                     what);
    else
        r = nr_py_llm_request_new(h, c);
    Py_DECREF(d);
    return r;
}

static PyObject *llmreq_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"headers", "content", NULL};
    PyObject *headers, *content;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO:LLMRequest", kwlist, &headers, &content))
        return NULL;
    return make(type, headers, content);
}

static void llmreq_dealloc(LLMRequestObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    Py_CLEAR(self->headers);
    Py_CLEAR(self->content);
    cJSON_Delete(self->content_json);
    self->content_json = NULL;
    tp->tp_free(self);
    Py_DECREF(tp);
}

static int llmreq_traverse(LLMRequestObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->headers);
    Py_VISIT(self->content);
    return 0;
}

static PyObject *get_headers(LLMRequestObject *self, void *c)
{
    (void)c;
    return nr_py_json_copy(self->headers);
}

static PyObject *get_content(LLMRequestObject *self, void *c)
{
    (void)c;
    return nr_py_json_copy(self->content);
}

static PyObject *llmreq_to_dict(LLMRequestObject *self, PyObject *unused)
{
    (void)unused;
    PyObject *h = nr_py_json_copy(self->headers);
    PyObject *c = h != NULL ? nr_py_json_copy(self->content) : NULL;
    PyObject *d = c != NULL ? Py_BuildValue("{s:N,s:N}", "headers", h, "content", c) : NULL;
    if (d == NULL && c == NULL)
        Py_XDECREF(h);
    return d;
}

static PyObject *llmreq_repr(LLMRequestObject *self)
{
    return PyUnicode_FromFormat("LLMRequest(headers=%R, content=%R)", self->headers, self->content);
}

static PyObject *llmreq_richcompare(PyObject *a, PyObject *b, int op)
{
    if ((op != Py_EQ && op != Py_NE) || !nr_py_is_llm_request(b))
        Py_RETURN_NOTIMPLEMENTED;
    LLMRequestObject *x = (LLMRequestObject *)a, *y = (LLMRequestObject *)b;
    int eq = PyObject_RichCompareBool(x->headers, y->headers, Py_EQ);
    if (eq == 1)
        eq = PyObject_RichCompareBool(x->content, y->content, Py_EQ);
    if (eq < 0)
        return NULL;
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static PyGetSetDef llmreq_getset[] = {
    {"headers", (getter)get_headers, NULL, "Request headers (a copy).", NULL},
    {"content", (getter)get_content, NULL, "Request content (a copy).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef llmreq_methods[] = {
    {"to_dict", (PyCFunction)llmreq_to_dict, METH_NOARGS,
     "{\"headers\": ..., \"content\": ...} (copies)."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot llmreq_slots[] = {
    {Py_tp_new, llmreq_new},
    {Py_tp_dealloc, llmreq_dealloc},
    {Py_tp_traverse, llmreq_traverse},
    {Py_tp_repr, llmreq_repr},
    {Py_tp_richcompare, llmreq_richcompare},
    {Py_tp_hash, PyObject_HashNotImplemented},
    {Py_tp_getset, llmreq_getset},
    {Py_tp_methods, llmreq_methods},
    {Py_tp_doc, "LLMRequest(headers: dict, content) -- an immutable LLM request.\n\n"
                "Properties return copies; build a new request to change one."},
    {0, NULL},
};

static PyType_Spec llmreq_spec = {
    "nemo_relay.LLMRequest", sizeof(LLMRequestObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE, llmreq_slots};

int nr_py_llm_request_init(PyObject *module, nr_py_state *st)
{
    st->LLMRequest_Type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &llmreq_spec, NULL);
    if (st->LLMRequest_Type == NULL || PyModule_AddType(module, st->LLMRequest_Type) < 0)
        return -1;
    return 0;
}
