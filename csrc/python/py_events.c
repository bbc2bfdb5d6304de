/* py_events.c -- ScopeEvent and MarkEvent: read-only views of runtime events. */
#include "py_state.h"

#include "py_annotated.h"
#include "py_convert.h"

#include "nr_codec.h"
#include "nr_json.h"

typedef struct {
    PyObject_HEAD
    nr_event *ev; /* strong */
} EventObject;

PyObject *nr_py_event_new(nr_event *ev)
{
    nr_py_state *st = nr_py_get_state();
    PyTypeObject *t = ev->kind == NR_EVENT_SCOPE ? st->ScopeEvent_Type : st->MarkEvent_Type;
    EventObject *e = PyObject_GC_New(EventObject, t);
    if (e == NULL)
        return NULL;
    e->ev = nr_event_ref(ev);
    PyObject_GC_Track(e);
    return (PyObject *)e;
}

static void event_dealloc(EventObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    nr_event_release(self->ev);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static int event_traverse(EventObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static PyObject *get_kind(EventObject *self, void *c)
{
    (void)c;
    return PyUnicode_FromString(self->ev->kind == NR_EVENT_SCOPE ? "scope" : "mark");
}

static PyObject *get_scope_category(EventObject *self, void *c)
{
    (void)c;
    return PyUnicode_FromString(self->ev->phase == NR_PHASE_START ? "start" : "end");
}

static PyObject *get_atof_version(EventObject *self, void *c)
{
    (void)self;
    (void)c;
    return PyUnicode_FromString("0.1");
}

static PyObject *get_uuid(EventObject *self, void *c)
{
    (void)c;
    return nr_py_uuid_str(&self->ev->uuid);
}

static PyObject *get_parent_uuid(EventObject *self, void *c)
{
    (void)c;
    if (!self->ev->has_parent)
        Py_RETURN_NONE;
    return nr_py_uuid_str(&self->ev->parent_uuid);
}

static PyObject *get_timestamp(EventObject *self, void *c)
{
    (void)c;
    char buf[NR_TIMESTAMP_STR_LEN];
    nr_time_format(self->ev->ts_us, buf);
    return PyUnicode_FromString(buf);
}

static PyObject *get_name(EventObject *self, void *c)
{
    (void)c;
    return PyUnicode_FromString(self->ev->name);
}

/* Payloads are converted afresh on every access: an event is a snapshot and
 * no subscriber can change what another one sees. */
static PyObject *get_data(EventObject *self, void *c)
{
    (void)c;
    return nr_py_from_cjson(nr_event_data(self->ev));
}

static PyObject *get_metadata(EventObject *self, void *c)
{
    (void)c;
    return nr_py_from_cjson(nr_event_metadata(self->ev));
}

static PyObject *get_data_schema(EventObject *self, void *c)
{
    (void)self;
    (void)c;
    Py_RETURN_NONE;
}

static PyObject *get_attributes(EventObject *self, void *c)
{
    (void)c;
    const char *names[2];
    int n = nr_attribute_names(self->ev->family, self->ev->attributes, names);
    PyObject *l = PyList_New(n);
    for (int i = 0; l != NULL && i < n; i++) {
        PyObject *s = PyUnicode_FromString(names[i]);
        if (s == NULL) {
            Py_CLEAR(l);
            break;
        }
        PyList_SET_ITEM(l, i, s);
    }
    return l;
}

static PyObject *get_category(EventObject *self, void *c)
{
    (void)c;
    const char *name = nr_scope_type_name(self->ev->category);
    if (name == NULL)
        Py_RETURN_NONE;
    return PyUnicode_FromString(name);
}

static PyObject *get_category_profile(EventObject *self, void *c)
{
    (void)c;
    return nr_py_from_cjson(self->ev->profile);
}

static PyObject *profile_member(EventObject *self, const char *key)
{
    const cJSON *v = cJSON_IsObject(self->ev->profile)
                         ? cJSON_GetObjectItemCaseSensitive(self->ev->profile, key)
                         : NULL;
    return nr_py_from_cjson(v);
}

/* The annotation as its class when it has the annotated shape (a codec's),
 * else as plain JSON (a native plugin's own annotation). */
static PyObject *get_annotated_request(EventObject *self, void *c)
{
    (void)c;
    const cJSON *v = nr_json_get(self->ev->profile, "annotated_request");
    if (v != NULL && nr_annotated_request_check(v, NULL))
        return nr_py_annotated_request_wrap(cJSON_Duplicate(v, true));
    return profile_member(self, "annotated_request");
}

static PyObject *get_annotated_response(EventObject *self, void *c)
{
    (void)c;
    const cJSON *v = nr_json_get(self->ev->profile, "annotated_response");
    if (cJSON_IsObject(v))
        return nr_py_annotated_response_wrap(cJSON_Duplicate(v, true));
    return profile_member(self, "annotated_response");
}

static PyObject *event_to_json(EventObject *self, PyObject *unused)
{
    (void)unused;
    const char *text = nr_event_json(self->ev);
    if (text == NULL)
        return PyErr_NoMemory();
    return PyUnicode_FromString(text);
}

static int set_item(PyObject *d, const char *key, PyObject *value)
{
    if (value == NULL)
        return -1;
    int rc = PyDict_SetItemString(d, key, value);
    Py_DECREF(value);
    return rc;
}

static PyObject *event_to_dict(EventObject *self, PyObject *unused)
{
    (void)unused;
    PyObject *d = PyDict_New();
    if (d == NULL)
        return NULL;
    bool scope = self->ev->kind == NR_EVENT_SCOPE;
    if (set_item(d, "kind", get_kind(self, NULL)) < 0 ||
        (scope && set_item(d, "scope_category", get_scope_category(self, NULL)) < 0) ||
        set_item(d, "atof_version", get_atof_version(self, NULL)) < 0 ||
        set_item(d, "uuid", get_uuid(self, NULL)) < 0 ||
        set_item(d, "parent_uuid", get_parent_uuid(self, NULL)) < 0 ||
        set_item(d, "timestamp", get_timestamp(self, NULL)) < 0 ||
        set_item(d, "name", get_name(self, NULL)) < 0 ||
        (scope && set_item(d, "attributes", get_attributes(self, NULL)) < 0) ||
        set_item(d, "category", get_category(self, NULL)) < 0 ||
        set_item(d, "category_profile", get_category_profile(self, NULL)) < 0 ||
        set_item(d, "data", get_data(self, NULL)) < 0 ||
        set_item(d, "data_schema", get_data_schema(self, NULL)) < 0 ||
        set_item(d, "metadata", get_metadata(self, NULL)) < 0) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

static PyObject *event_repr(EventObject *self)
{
    nr_event *ev = self->ev;
    PyObject *name = PyUnicode_FromString(ev->name);
    if (name == NULL)
        return NULL;
    PyObject *r;
    if (ev->kind == NR_EVENT_SCOPE)
        r = PyUnicode_FromFormat("<ScopeEvent %s %s name=%R>", nr_scope_type_name(ev->category),
                                 ev->phase == NR_PHASE_START ? "start" : "end", name);
    else
        r = PyUnicode_FromFormat("<MarkEvent name=%R>", name);
    Py_DECREF(name);
    return r;
}

static PyMethodDef event_methods[] = {
    {"to_dict", (PyCFunction)event_to_dict, METH_NOARGS, "The event as ATOF 0.1 (a dict)."},
    {"to_json", (PyCFunction)event_to_json, METH_NOARGS, "The event as ATOF 0.1 JSON text."},
    {NULL, NULL, 0, NULL},
};

#define COMMON_GETSET                                                                        \
    {"kind", (getter)get_kind, NULL, "\"scope\" or \"mark\".", NULL},                        \
        {"atof_version", (getter)get_atof_version, NULL, "Always \"0.1\".", NULL},           \
        {"uuid", (getter)get_uuid, NULL, "Event uuid (shared by a scope's start and end).",  \
         NULL},                                                                              \
        {"parent_uuid", (getter)get_parent_uuid, NULL, "UUID of the parent scope.", NULL},   \
        {"timestamp", (getter)get_timestamp, NULL, "RFC 3339 UTC timestamp.", NULL},         \
        {"name", (getter)get_name, NULL, "Scope, tool, LLM or mark name.", NULL},            \
        {"data", (getter)get_data, NULL, "Payload (a fresh copy on every access).", NULL},   \
        {"data_schema", (getter)get_data_schema, NULL, "Always None.", NULL},                \
        {"metadata", (getter)get_metadata, NULL, "Metadata (a fresh copy).", NULL},          \
        {"category", (getter)get_category, NULL, "Lowercase scope type, or None.", NULL},    \
        {"category_profile", (getter)get_category_profile, NULL, "Profile dict, or None.",   \
         NULL}

static PyGetSetDef scope_event_getset[] = {
    COMMON_GETSET,
    {"scope_category", (getter)get_scope_category, NULL, "\"start\" or \"end\".", NULL},
    {"attributes", (getter)get_attributes, NULL, "Sorted attribute names.", NULL},
    {"annotated_request", (getter)get_annotated_request, NULL, "LLM start annotation.", NULL},
    {"annotated_response", (getter)get_annotated_response, NULL, "LLM end annotation.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyGetSetDef mark_event_getset[] = {
    COMMON_GETSET,
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot scope_event_slots[] = {
    {Py_tp_dealloc, event_dealloc}, {Py_tp_traverse, event_traverse},
    {Py_tp_repr, event_repr},       {Py_tp_methods, event_methods},
    {Py_tp_getset, scope_event_getset},
    {Py_tp_doc, "A scope start or end event (ATOF 0.1), immutable."},
    {0, NULL},
};

static PyType_Slot mark_event_slots[] = {
    {Py_tp_dealloc, event_dealloc}, {Py_tp_traverse, event_traverse},
    {Py_tp_repr, event_repr},       {Py_tp_methods, event_methods},
    {Py_tp_getset, mark_event_getset},
    {Py_tp_doc, "A mark event (ATOF 0.1), immutable."},
    {0, NULL},
};

#define EVENT_FLAGS                                                                  \
    (Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE |            \
     Py_TPFLAGS_DISALLOW_INSTANTIATION)

static PyType_Spec scope_event_spec = {"nemo_relay.ScopeEvent", sizeof(EventObject), 0,
                                       EVENT_FLAGS, scope_event_slots};
static PyType_Spec mark_event_spec = {"nemo_relay.MarkEvent", sizeof(EventObject), 0,
                                      EVENT_FLAGS, mark_event_slots};

int nr_py_events_init(PyObject *module, nr_py_state *st)
{
    st->ScopeEvent_Type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &scope_event_spec, NULL);
    if (st->ScopeEvent_Type == NULL || PyModule_AddType(module, st->ScopeEvent_Type) < 0)
        return -1;
    st->MarkEvent_Type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &mark_event_spec, NULL);
    if (st->MarkEvent_Type == NULL || PyModule_AddType(module, st->MarkEvent_Type) < 0)
        return -1;
    return 0;
}
