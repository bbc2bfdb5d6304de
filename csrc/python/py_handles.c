/* py_handles.c -- ScopeHandle, ToolHandle, LLMHandle and ScopeStack types. */
#include "py_state.h"

#include "py_convert.h"

#include <structmember.h>

typedef struct {
    PyObject_HEAD
    nr_scope *node; /* strong */
} HandleObject;

typedef struct {
    PyObject_HEAD
    nr_stack *stack; /* strong */
} StackObject;

static PyTypeObject *type_for_family(nr_py_state *st, nr_family family)
{
    switch (family) {
    case NR_FAMILY_TOOL: return st->ToolHandle_Type;
    case NR_FAMILY_LLM: return st->LLMHandle_Type;
    default: return st->ScopeHandle_Type;
    }
}

static int is_handle(nr_py_state *st, PyObject *obj)
{
    PyTypeObject *t = Py_TYPE(obj);
    return t == st->ScopeHandle_Type || t == st->ToolHandle_Type || t == st->LLMHandle_Type;
}

PyObject *nr_py_handle_for(nr_scope *node)
{
    nr_py_state *st = nr_py_get_state();
    if (node->host_cache != NULL)
        return Py_NewRef((PyObject *)node->host_cache);
    PyTypeObject *type = type_for_family(st, node->family);
    HandleObject *h = PyObject_GC_New(HandleObject, type);
    if (h == NULL)
        return NULL;
    h->node = nr_scope_ref(node);
    node->host_cache = h; /* cleared in dealloc; guarded by the GIL */
    PyObject_GC_Track(h);
    return (PyObject *)h;
}

nr_scope *nr_py_handle_node(PyObject *obj, const char *what)
{
    nr_py_state *st = nr_py_get_state();
    if (obj == NULL || !is_handle(st, obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be a ScopeHandle, not %.100s", what,
                     obj != NULL ? Py_TYPE(obj)->tp_name : "NULL");
        return NULL;
    }
    return ((HandleObject *)obj)->node;
}

static void handle_dealloc(HandleObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->node->host_cache == self)
        self->node->host_cache = NULL;
    nr_scope_release(self->node);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static int handle_traverse(HandleObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static PyObject *handle_get_uuid(HandleObject *self, void *c)
{
    (void)c;
    return nr_py_uuid_str(&self->node->uuid);
}

static PyObject *handle_get_name(HandleObject *self, void *c)
{
    (void)c;
    return PyUnicode_FromString(self->node->name);
}

static PyObject *handle_get_parent_uuid(HandleObject *self, void *c)
{
    (void)c;
    if (!self->node->has_parent)
        Py_RETURN_NONE;
    return nr_py_uuid_str(&self->node->parent_uuid);
}

static PyObject *lazy_types(nr_py_state *st)
{
    if (st->ScopeType != NULL)
        return st->ScopeType;
    PyObject *mod = PyImport_ImportModule("nemo_relay._types");
    if (mod == NULL)
        return NULL;
    st->ScopeType = PyObject_GetAttrString(mod, "ScopeType");
    st->ScopeAttributes = PyObject_GetAttrString(mod, "ScopeAttributes");
    st->ToolAttributes = PyObject_GetAttrString(mod, "ToolAttributes");
    st->LLMAttributes = PyObject_GetAttrString(mod, "LLMAttributes");
    Py_DECREF(mod);
    if (st->ScopeType == NULL || st->ScopeAttributes == NULL || st->ToolAttributes == NULL ||
        st->LLMAttributes == NULL) {
        Py_CLEAR(st->ScopeType);
        return NULL;
    }
    return st->ScopeType;
}

static PyObject *handle_get_scope_type(HandleObject *self, void *c)
{
    (void)c;
    nr_py_state *st = nr_py_get_state();
    if (lazy_types(st) == NULL)
        return NULL;
    return PyObject_CallFunction(st->ScopeType, "i", (int)self->node->type);
}

static PyObject *handle_get_attributes(HandleObject *self, void *c)
{
    (void)c;
    nr_py_state *st = nr_py_get_state();
    if (lazy_types(st) == NULL)
        return NULL;
    PyObject *cls = self->node->family == NR_FAMILY_TOOL  ? st->ToolAttributes
                    : self->node->family == NR_FAMILY_LLM ? st->LLMAttributes
                                                          : st->ScopeAttributes;
    return PyObject_CallFunction(cls, "I", (unsigned)self->node->attributes);
}

static PyObject *handle_get_data(HandleObject *self, void *c)
{
    (void)c;
    return nr_py_value_to_py(self->node->data);
}

static PyObject *handle_get_metadata(HandleObject *self, void *c)
{
    (void)c;
    return nr_py_value_to_py(self->node->metadata);
}

static PyObject *handle_get_start_time(HandleObject *self, void *c)
{
    (void)c;
    return nr_py_datetime_from_us(self->node->start_us);
}

static PyObject *handle_get_tool_call_id(HandleObject *self, void *c)
{
    (void)c;
    if (self->node->tool_call_id == NULL)
        Py_RETURN_NONE;
    return PyUnicode_FromString(self->node->tool_call_id);
}

static PyObject *handle_get_model_name(HandleObject *self, void *c)
{
    (void)c;
    if (self->node->model_name == NULL)
        Py_RETURN_NONE;
    return PyUnicode_FromString(self->node->model_name);
}

static PyObject *handle_repr(HandleObject *self)
{
    char buf[NR_UUID_STR_LEN];
    nr_uuid_format(&self->node->uuid, buf);
    PyObject *name = PyUnicode_FromString(self->node->name);
    if (name == NULL)
        return NULL;
    PyObject *r = PyUnicode_FromFormat("<%s name=%R uuid='%s'>", _PyType_Name(Py_TYPE(self)),
                                       name, buf);
    Py_DECREF(name);
    return r;
}

static Py_hash_t handle_hash(HandleObject *self)
{
    Py_hash_t h = 0;
    for (int i = 0; i < 16; i++)
        h = h * 1000003 ^ self->node->uuid.bytes[i];
    return h == -1 ? -2 : h;
}

static PyObject *handle_richcompare(PyObject *a, PyObject *b, int op)
{
    nr_py_state *st = nr_py_get_state();
    if ((op != Py_EQ && op != Py_NE) || !is_handle(st, b))
        Py_RETURN_NOTIMPLEMENTED;
    int eq = nr_uuid_eq(&((HandleObject *)a)->node->uuid, &((HandleObject *)b)->node->uuid);
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static PyGetSetDef scope_handle_getset[] = {
    {"uuid", (getter)handle_get_uuid, NULL, "UUIDv7 of the scope.", NULL},
    {"name", (getter)handle_get_name, NULL, "Scope name.", NULL},
    {"scope_type", (getter)handle_get_scope_type, NULL, "The ScopeType.", NULL},
    {"attributes", (getter)handle_get_attributes, NULL, "ScopeAttributes flags.", NULL},
    {"parent_uuid", (getter)handle_get_parent_uuid, NULL, "UUID of the parent scope.", NULL},
    {"data", (getter)handle_get_data, NULL, "Data kept on the handle (never emitted).", NULL},
    {"metadata", (getter)handle_get_metadata, NULL, "Start metadata.", NULL},
    {"start_time", (getter)handle_get_start_time, NULL, "Start time (aware datetime).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyGetSetDef call_handle_getset[] = {
    {"uuid", (getter)handle_get_uuid, NULL, "UUIDv7 of the call.", NULL},
    {"name", (getter)handle_get_name, NULL, "Tool or LLM name.", NULL},
    {"attributes", (getter)handle_get_attributes, NULL, "Attribute flags.", NULL},
    {"parent_uuid", (getter)handle_get_parent_uuid, NULL, "UUID of the parent scope.", NULL},
    {"data", (getter)handle_get_data, NULL, "Data kept on the handle.", NULL},
    {"metadata", (getter)handle_get_metadata, NULL, "Start metadata.", NULL},
    {"start_time", (getter)handle_get_start_time, NULL, "Start time (aware datetime).", NULL},
    {"tool_call_id", (getter)handle_get_tool_call_id, NULL, "Tool call id, if any.", NULL},
    {"model_name", (getter)handle_get_model_name, NULL, "Model name, if any.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

#define HANDLE_SLOTS(getset, doc)                                                    \
    {Py_tp_dealloc, handle_dealloc}, {Py_tp_traverse, handle_traverse},              \
        {Py_tp_repr, handle_repr}, {Py_tp_hash, handle_hash},                        \
        {Py_tp_richcompare, handle_richcompare}, {Py_tp_getset, getset},             \
        {Py_tp_doc, doc}, {0, NULL}

static PyType_Slot scope_handle_slots[] = {
    HANDLE_SLOTS(scope_handle_getset, "An open or finished scope (immutable).")};
static PyType_Slot tool_handle_slots[] = {
    HANDLE_SLOTS(call_handle_getset, "A tool call started with tools.call (immutable).")};
static PyType_Slot llm_handle_slots[] = {
    HANDLE_SLOTS(call_handle_getset, "An LLM call started with llm.call (immutable).")};

#define HANDLE_FLAGS                                                                 \
    (Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE |            \
     Py_TPFLAGS_DISALLOW_INSTANTIATION)

static PyType_Spec scope_handle_spec = {"nemo_relay.ScopeHandle", sizeof(HandleObject), 0,
                                        HANDLE_FLAGS, scope_handle_slots};
static PyType_Spec tool_handle_spec = {"nemo_relay.ToolHandle", sizeof(HandleObject), 0,
                                       HANDLE_FLAGS, tool_handle_slots};
static PyType_Spec llm_handle_spec = {"nemo_relay.LLMHandle", sizeof(HandleObject), 0,
                                      HANDLE_FLAGS, llm_handle_slots};

/* ---- ScopeStack ------------------------------------------------------------ */

PyObject *nr_py_stack_new(nr_stack *stack)
{
    nr_py_state *st = nr_py_get_state();
    StackObject *s = PyObject_GC_New(StackObject, st->ScopeStack_Type);
    if (s == NULL)
        return NULL;
    s->stack = nr_stack_ref(stack);
    PyObject_GC_Track(s);
    return (PyObject *)s;
}

nr_stack *nr_py_stack_of(PyObject *obj)
{
    nr_py_state *st = nr_py_get_state();
    if (obj == NULL || Py_TYPE(obj) != st->ScopeStack_Type) {
        PyErr_Format(PyExc_TypeError, "expected a ScopeStack, not %.100s",
                     obj != NULL ? Py_TYPE(obj)->tp_name : "NULL");
        return NULL;
    }
    return ((StackObject *)obj)->stack;
}

static void stack_dealloc(StackObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    nr_stack_release(self->stack);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static int stack_traverse(StackObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static PyObject *stack_repr(StackObject *self)
{
    (void)self;
    return PyUnicode_FromString("<ScopeStack>");
}

static PyObject *stack_get_top(StackObject *self, void *c)
{
    (void)c;
    nr_scope *top = nr_stack_top(self->stack);
    PyObject *h = nr_py_handle_for(top);
    nr_scope_release(top);
    return h;
}

static PyGetSetDef stack_getset[] = {
    {"top", (getter)stack_get_top, NULL, "Handle of the scope on top of this stack.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot stack_slots[] = {
    {Py_tp_dealloc, stack_dealloc}, {Py_tp_traverse, stack_traverse},
    {Py_tp_repr, stack_repr},       {Py_tp_getset, stack_getset},
    {Py_tp_doc, "A scope stack: a cell holding the top of a scope chain."},
    {0, NULL},
};

static PyType_Spec stack_spec = {"nemo_relay.ScopeStack", sizeof(StackObject), 0, HANDLE_FLAGS,
                                 stack_slots};

static PyTypeObject *make_type(PyObject *module, PyType_Spec *spec)
{
    PyTypeObject *t = (PyTypeObject *)PyType_FromModuleAndSpec(module, spec, NULL);
    if (t != NULL && PyModule_AddType(module, t) < 0)
        Py_CLEAR(t);
    return t;
}

int nr_py_handles_init(PyObject *module, nr_py_state *st)
{
    if ((st->ScopeHandle_Type = make_type(module, &scope_handle_spec)) == NULL ||
        (st->ToolHandle_Type = make_type(module, &tool_handle_spec)) == NULL ||
        (st->LLMHandle_Type = make_type(module, &llm_handle_spec)) == NULL ||
        (st->ScopeStack_Type = make_type(module, &stack_spec)) == NULL)
        return -1;
    return 0;
}
