/* py_annotated.c -- the AnnotatedLLMRequest and AnnotatedLLMResponse types. */
#include "py_annotated.h"

#include "nr_codec.h"
#include "nr_json.h"
#include "py_convert.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
    cJSON *json; /* owned; an object */
} AnnotatedObject;

static PyTypeObject *request_type(void) { return nr_py_get_state()->AnnotatedLLMRequest_Type; }
static PyTypeObject *response_type(void) { return nr_py_get_state()->AnnotatedLLMResponse_Type; }

int nr_py_is_annotated_request(PyObject *obj) { return Py_IS_TYPE(obj, request_type()); }
int nr_py_is_annotated_response(PyObject *obj) { return Py_IS_TYPE(obj, response_type()); }

const cJSON *nr_py_annotated_json(PyObject *obj) { return ((AnnotatedObject *)obj)->json; }

static PyObject *wrap(PyTypeObject *type, cJSON *json)
{
    if (json == NULL)
        return PyErr_NoMemory();
    AnnotatedObject *self = (AnnotatedObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        cJSON_Delete(json);
        return NULL;
    }
    self->json = json;
    return (PyObject *)self;
}

PyObject *nr_py_annotated_request_wrap(cJSON *json) { return wrap(request_type(), json); }
PyObject *nr_py_annotated_response_wrap(cJSON *json) { return wrap(response_type(), json); }

static void annotated_dealloc(AnnotatedObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    cJSON_Delete(self->json);
    tp->tp_free(self);
    Py_DECREF(tp);
}

/* ValueError from a codec-layer error. */
static void raise_invalid(nr_error *err)
{
    PyErr_SetString(PyExc_ValueError, nr_error_message(err));
    nr_error_clear(err);
}

/* Adds the JSON of value under key unless value is NULL/None; -1 with
 * ValueError. */
static int put(cJSON *obj, const char *key, PyObject *value)
{
    if (value == NULL || value == Py_None)
        return 0;
    cJSON *j = nr_py_to_cjson(value);
    if (j == NULL) {
        PyObject *type, *exc, *tb;
        PyErr_Fetch(&type, &exc, &tb);
        PyErr_Format(PyExc_ValueError, "invalid %s: %S", key, exc != NULL ? exc : Py_None);
        Py_XDECREF(type);
        Py_XDECREF(exc);
        Py_XDECREF(tb);
        return -1;
    }
    if (!nr_codec_set(obj, key, j)) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* Adds the keys of extra (a dict, or None) as extra fields. */
static int put_extra(cJSON *obj, PyObject *extra, bool (*typed)(const char *))
{
    if (extra == NULL || extra == Py_None)
        return 0;
    if (!PyDict_Check(extra)) {
        PyErr_Format(PyExc_TypeError, "extra must be a dict, not %.100s", Py_TYPE(extra)->tp_name);
        return -1;
    }
    cJSON *j = nr_py_to_cjson(extra);
    if (j == NULL)
        return -1;
    for (cJSON *it = j->child; it != NULL; it = it->next) {
        if (typed(it->string)) {
            PyErr_Format(PyExc_ValueError, "invalid extra: '%s' is a field of its own, not an extra",
                         it->string);
            cJSON_Delete(j);
            return -1;
        }
    }
    while (j->child != NULL) {
        cJSON *it = cJSON_DetachItemViaPointer(j, j->child);
        if (!nr_codec_set(obj, it->string, it)) { /* takes it in every case */
            cJSON_Delete(j);
            PyErr_NoMemory();
            return -1;
        }
    }
    cJSON_Delete(j);
    return 0;
}

static PyObject *member(const AnnotatedObject *self, const char *key)
{
    const cJSON *v = nr_json_get(self->json, key);
    return nr_py_from_cjson(v); /* NULL -> None */
}

static PyObject *extra_of(const AnnotatedObject *self, bool (*typed)(const char *))
{
    PyObject *d = PyDict_New();
    for (const cJSON *it = self->json->child; d != NULL && it != NULL; it = it->next) {
        if (typed(it->string))
            continue;
        PyObject *v = nr_py_from_cjson(it);
        if (v == NULL || PyDict_SetItemString(d, it->string, v) < 0)
            Py_CLEAR(d);
        Py_XDECREF(v);
    }
    return d;
}

static PyObject *annotated_to_dict(AnnotatedObject *self, PyObject *unused)
{
    (void)unused;
    return nr_py_from_cjson(self->json);
}

static PyObject *annotated_richcompare(PyObject *a, PyObject *b, int op)
{
    if ((op != Py_EQ && op != Py_NE) || Py_TYPE(a) != Py_TYPE(b))
        Py_RETURN_NOTIMPLEMENTED;
    int eq = cJSON_Compare(((AnnotatedObject *)a)->json, ((AnnotatedObject *)b)->json, true);
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static PyObject *annotated_repr(AnnotatedObject *self)
{
    char *text = nr_json_print(self->json);
    if (text == NULL)
        return PyErr_NoMemory();
    PyObject *r = PyUnicode_FromFormat(
        "%s(%s)", nr_py_is_annotated_request((PyObject *)self) ? "AnnotatedLLMRequest"
                                                                : "AnnotatedLLMResponse", text);
    free(text);
    return r;
}

/* The first text of a message's content (a string or parts). */
static const char *first_text(const cJSON *content)
{
    if (cJSON_IsString(content))
        return content->valuestring;
    for (const cJSON *p = cJSON_IsArray(content) ? content->child : NULL; p != NULL; p = p->next) {
        const cJSON *t = nr_json_get(p, "text");
        if (cJSON_IsString(t) && nr_codec_is_text_part(p))
            return t->valuestring;
    }
    return NULL;
}

static PyObject *str_or_none(const char *s)
{
    if (s == NULL)
        Py_RETURN_NONE;
    return PyUnicode_FromString(s);
}

static bool role_is(const cJSON *m, const char *role)
{
    const cJSON *r = nr_json_get(m, "role");
    return cJSON_IsString(r) && strcmp(r->valuestring, role) == 0;
}

/* ---- AnnotatedLLMRequest ------------------------------------------------------------ */

static cJSON *request_build(PyObject *messages, PyObject *model, PyObject *params, PyObject *tools,
                            PyObject *tool_choice, PyObject *extra)
{
    if (model != NULL && model != Py_None && !PyUnicode_Check(model)) {
        PyErr_Format(PyExc_TypeError, "model must be a str or None, not %.100s",
                     Py_TYPE(model)->tp_name);
        return NULL;
    }
    cJSON *j = cJSON_CreateObject();
    if (j == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    if (put(j, "messages", messages) < 0 || put(j, "model", model) < 0 ||
        put(j, "params", params) < 0 || put(j, "tools", tools) < 0 ||
        put(j, "tool_choice", tool_choice) < 0 || put_extra(j, extra, nr_annotated_request_is_typed_key) < 0) {
        cJSON_Delete(j);
        return NULL;
    }
    nr_error err = NR_ERROR_INIT;
    if (!nr_annotated_request_check(j, &err)) {
        raise_invalid(&err);
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

static PyObject *request_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"messages", "model", "params", "tools", "tool_choice", "extra", NULL};
    PyObject *messages, *model = NULL, *params = NULL, *tools = NULL, *tool_choice = NULL,
                        *extra = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|$OOOOO:AnnotatedLLMRequest", kwlist, &messages,
                                     &model, &params, &tools, &tool_choice, &extra))
        return NULL;
    if (messages == Py_None) {
        PyErr_SetString(PyExc_ValueError, "invalid messages: expected a list of message objects");
        return NULL;
    }
    cJSON *j = request_build(messages, model, params, tools, tool_choice, extra);
    return j != NULL ? wrap(type, j) : NULL;
}

cJSON *nr_py_annotated_request_tree(PyObject *obj, const char *what)
{
    if (nr_py_is_annotated_request(obj))
        return cJSON_Duplicate(((AnnotatedObject *)obj)->json, true);
    if (!PyDict_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be an AnnotatedLLMRequest, not %.100s", what,
                     Py_TYPE(obj)->tp_name);
        return NULL;
    }
    cJSON *j = nr_py_to_cjson(obj);
    nr_error err = NR_ERROR_INIT;
    if (j != NULL && !nr_annotated_request_check(j, &err)) {
        raise_invalid(&err);
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

static PyObject *request_get(AnnotatedObject *self, void *key)
{
    if (strcmp(key, "messages") == 0) {
        const cJSON *m = nr_json_get(self->json, "messages");
        return m != NULL ? nr_py_from_cjson(m) : PyList_New(0);
    }
    return member(self, key);
}

static int request_set(AnnotatedObject *self, PyObject *value, void *key)
{
    if (value == NULL) {
        PyErr_Format(PyExc_AttributeError, "cannot delete %s", (const char *)key);
        return -1;
    }
    if (value == Py_None && strcmp(key, "messages") == 0) {
        PyErr_SetString(PyExc_ValueError, "invalid messages: expected a list of message objects");
        return -1;
    }
    cJSON *trial = cJSON_Duplicate(self->json, true);
    if (trial == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (value == Py_None) /* clears the field; else it is replaced where it stands */
        cJSON_DeleteItemFromObjectCaseSensitive(trial, key);
    if (put(trial, key, value) < 0) {
        cJSON_Delete(trial);
        return -1;
    }
    nr_error err = NR_ERROR_INIT;
    if (!nr_annotated_request_check(trial, &err)) {
        raise_invalid(&err);
        cJSON_Delete(trial);
        return -1;
    }
    cJSON_Delete(self->json);
    self->json = trial;
    return 0;
}

static PyObject *request_get_extra(AnnotatedObject *self, void *c)
{
    (void)c;
    return extra_of(self, nr_annotated_request_is_typed_key);
}

static int request_set_extra(AnnotatedObject *self, PyObject *value, void *c)
{
    (void)c;
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete extra");
        return -1;
    }
    cJSON *trial = cJSON_CreateObject();
    if (trial == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (const cJSON *it = self->json->child; it != NULL; it = it->next)
        if (nr_annotated_request_is_typed_key(it->string) &&
            !nr_json_add(trial, it->string, cJSON_Duplicate(it, true))) {
            cJSON_Delete(trial);
            PyErr_NoMemory();
            return -1;
        }
    if (put_extra(trial, value == Py_None ? NULL : value, nr_annotated_request_is_typed_key) < 0) {
        cJSON_Delete(trial);
        return -1;
    }
    cJSON_Delete(self->json);
    self->json = trial;
    return 0;
}

static PyObject *request_system_prompt(AnnotatedObject *self, PyObject *unused)
{
    (void)unused;
    const cJSON *m = nr_json_get(self->json, "messages");
    for (const cJSON *it = cJSON_IsArray(m) ? m->child : NULL; it != NULL; it = it->next)
        if (role_is(it, "system"))
            return str_or_none(first_text(nr_json_get(it, "content")));
    Py_RETURN_NONE;
}

static PyObject *request_last_user_message(AnnotatedObject *self, PyObject *unused)
{
    (void)unused;
    const cJSON *m = nr_json_get(self->json, "messages");
    for (const cJSON *it = cJSON_IsArray(m) ? cJSON_GetArrayItem(m, cJSON_GetArraySize(m) - 1) : NULL;
         it != NULL; it = it->prev) {
        const char *t = role_is(it, "user") ? first_text(nr_json_get(it, "content")) : NULL;
        if (t != NULL)
            return PyUnicode_FromString(t);
        if (it == m->child)
            break; /* cJSON's first child links back to the last */
    }
    Py_RETURN_NONE;
}

static PyObject *request_has_tool_calls(AnnotatedObject *self, PyObject *unused)
{
    (void)unused;
    const cJSON *m = nr_json_get(self->json, "messages");
    for (const cJSON *it = cJSON_IsArray(m) ? m->child : NULL; it != NULL; it = it->next) {
        if (!role_is(it, "assistant"))
            continue;
        const cJSON *calls = nr_json_get(it, "tool_calls");
        if (cJSON_IsArray(calls) && calls->child != NULL)
            Py_RETURN_TRUE;
        const cJSON *content = nr_json_get(it, "content");
        for (const cJSON *p = cJSON_IsArray(content) ? content->child : NULL; p != NULL; p = p->next) {
            const cJSON *type = nr_json_get(p, "type");
            if (cJSON_IsString(type) && strcmp(type->valuestring, "tool_use") == 0)
                Py_RETURN_TRUE;
        }
    }
    Py_RETURN_FALSE;
}

#define FIELD(name, doc) {name, (getter)request_get, (setter)request_set, doc, name}

static PyGetSetDef request_getset[] = {
    FIELD("messages", "The messages (a list of dicts with a 'role')."),
    FIELD("model", "The model name, or None."),
    FIELD("params", "Generation parameters (temperature, max_tokens, top_p, stop), or None."),
    FIELD("tools", "Tool declarations ({'type': 'function', 'function': {...}}), or None."),
    FIELD("tool_choice", "'auto', 'none', 'required' or {'type': 'function', ...}, or None."),
    FIELD("store", "Provider field, or None."),
    FIELD("previous_response_id", "Provider field, or None."),
    FIELD("truncation", "Provider field, or None."),
    FIELD("reasoning", "Provider field, or None."),
    FIELD("include", "Provider field, or None."),
    FIELD("user", "Provider field, or None."),
    FIELD("metadata", "Provider field, or None."),
    FIELD("service_tier", "Provider field, or None."),
    FIELD("parallel_tool_calls", "Provider field, or None."),
    FIELD("max_output_tokens", "Provider field, or None."),
    FIELD("max_tool_calls", "Provider field, or None."),
    FIELD("top_logprobs", "Provider field, or None."),
    FIELD("stream", "Provider field, or None."),
    {"extra", (getter)request_get_extra, (setter)request_set_extra,
     "Every other field of the request (a dict).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef request_methods[] = {
    {"system_prompt", (PyCFunction)request_system_prompt, METH_NOARGS,
     "The text of the first system message, or None."},
    {"last_user_message", (PyCFunction)request_last_user_message, METH_NOARGS,
     "The text of the last user message, or None."},
    {"has_tool_calls", (PyCFunction)request_has_tool_calls, METH_NOARGS,
     "Whether an assistant message carries tool calls."},
    {"to_dict", (PyCFunction)annotated_to_dict, METH_NOARGS,
     "The wire form: the typed fields plus the extra fields, flattened (a copy)."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot request_slots[] = {
    {Py_tp_new, request_new},
    {Py_tp_dealloc, annotated_dealloc},
    {Py_tp_repr, annotated_repr},
    {Py_tp_richcompare, annotated_richcompare},
    {Py_tp_hash, PyObject_HashNotImplemented},
    {Py_tp_getset, request_getset},
    {Py_tp_methods, request_methods},
    {Py_tp_doc, "AnnotatedLLMRequest(messages, *, model=None, params=None, tools=None, "
                "tool_choice=None, extra=None)\n\n"
                "A provider-neutral view of an LLM request, made by a codec's decode() and "
                "turned back into the provider's request by encode().  Properties return "
                "copies; assign to change a field."},
    {0, NULL},
};

static PyType_Spec request_spec = {"nemo_relay.AnnotatedLLMRequest", sizeof(AnnotatedObject), 0,
                                   Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE, request_slots};

/* ---- AnnotatedLLMResponse ------------------------------------------------------------ */

static const char *const KNOWN_FINISH[] = {"complete", "length", "tool_use", "content_filter", NULL};

static int check_response(cJSON *j)
{
    const cJSON *id = nr_json_get(j, "id"), *model = nr_json_get(j, "model");
    const cJSON *calls = nr_json_get(j, "tool_calls"), *usage = nr_json_get(j, "usage");
    const cJSON *api = nr_json_get(j, "api_specific");
    if (id != NULL && !cJSON_IsString(id)) {
        PyErr_SetString(PyExc_ValueError, "invalid id: expected a string");
        return -1;
    }
    if (model != NULL && !cJSON_IsString(model)) {
        PyErr_SetString(PyExc_ValueError, "invalid model: expected a string");
        return -1;
    }
    if (calls != NULL && !cJSON_IsArray(calls)) {
        PyErr_SetString(PyExc_ValueError, "invalid tool_calls: expected a list");
        return -1;
    }
    int i = 0;
    for (const cJSON *c = calls != NULL ? calls->child : NULL; c != NULL; c = c->next, i++) {
        if (!cJSON_IsObject(c) || !cJSON_IsString(nr_json_get(c, "name"))) {
            PyErr_Format(PyExc_ValueError,
                         "invalid tool_calls: tool_calls[%d] must be an object with a 'name'", i);
            return -1;
        }
    }
    if (usage != NULL && !cJSON_IsObject(usage)) {
        PyErr_SetString(PyExc_ValueError, "invalid usage: expected an object");
        return -1;
    }
    if (api != NULL && !cJSON_IsObject(api)) {
        PyErr_SetString(PyExc_ValueError, "invalid api_specific: expected an object");
        return -1;
    }
    /* finish_reason: a known word, else {"unknown": text} */
    cJSON *fr = cJSON_GetObjectItemCaseSensitive(j, "finish_reason");
    if (cJSON_IsString(fr) && !nr_codec_key_in(fr->valuestring, KNOWN_FINISH)) {
        cJSON *o = cJSON_CreateObject();
        if (o != NULL && !nr_json_add(o, "unknown", cJSON_CreateString(fr->valuestring)))
            cJSON_Delete(o), o = NULL;
        if (o == NULL || !nr_codec_set(j, "finish_reason", o)) { /* nr_codec_set takes o */
            PyErr_NoMemory();
            return -1;
        }
    } else if (fr != NULL && !cJSON_IsString(fr) &&
               !(cJSON_IsObject(fr) && cJSON_IsString(nr_json_get(fr, "unknown")))) {
        PyErr_SetString(PyExc_ValueError, "invalid finish_reason: expected a string");
        return -1;
    }
    return 0;
}

static PyObject *response_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"id", "model", "message", "tool_calls", "finish_reason", "usage",
                             "api_specific", "extra", NULL};
    PyObject *v[8] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OOOOOOOO:AnnotatedLLMResponse", kwlist, &v[0],
                                     &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]))
        return NULL;
    cJSON *j = cJSON_CreateObject();
    if (j == NULL)
        return PyErr_NoMemory();
    for (int i = 0; i < 7; i++)
        if (put(j, kwlist[i], v[i]) < 0) {
            cJSON_Delete(j);
            return NULL;
        }
    if (put_extra(j, v[7], nr_annotated_response_is_typed_key) < 0 || check_response(j) < 0) {
        cJSON_Delete(j);
        return NULL;
    }
    return wrap(type, j);
}

cJSON *nr_py_annotated_response_tree(PyObject *obj, const char *what)
{
    if (nr_py_is_annotated_response(obj))
        return cJSON_Duplicate(((AnnotatedObject *)obj)->json, true);
    if (!PyDict_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be an AnnotatedLLMResponse or a dict, not %.100s",
                     what, Py_TYPE(obj)->tp_name);
        return NULL;
    }
    cJSON *j = nr_py_to_cjson(obj);
    if (j != NULL && check_response(j) < 0) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

static PyObject *response_get(AnnotatedObject *self, void *key)
{
    return member(self, key);
}

static PyObject *response_get_finish(AnnotatedObject *self, void *c)
{
    (void)c;
    const cJSON *fr = nr_json_get(self->json, "finish_reason");
    if (cJSON_IsObject(fr))
        fr = nr_json_get(fr, "unknown");
    return str_or_none(cJSON_IsString(fr) ? fr->valuestring : NULL);
}

static PyObject *response_get_extra(AnnotatedObject *self, void *c)
{
    (void)c;
    return extra_of(self, nr_annotated_response_is_typed_key);
}

static PyObject *response_text(AnnotatedObject *self, PyObject *unused)
{
    (void)unused;
    return str_or_none(first_text(nr_json_get(self->json, "message")));
}

static PyObject *response_has_tool_calls(AnnotatedObject *self, PyObject *unused)
{
    (void)unused;
    const cJSON *calls = nr_json_get(self->json, "tool_calls");
    return PyBool_FromLong(cJSON_IsArray(calls) && calls->child != NULL);
}

#define RFIELD(name, doc) {name, (getter)response_get, NULL, doc, name}

static PyGetSetDef response_getset[] = {
    RFIELD("id", "The provider's response id, or None."),
    RFIELD("model", "The model that answered, or None."),
    RFIELD("message", "The response text (or content parts), or None."),
    RFIELD("tool_calls", "[{'id', 'name', 'arguments'}] the model asked for, or None."),
    {"finish_reason", (getter)response_get_finish, NULL,
     "'complete', 'length', 'tool_use', 'content_filter', the provider's own word, or None.", NULL},
    RFIELD("usage", "{'prompt_tokens', 'completion_tokens', 'total_tokens', 'cache_read_tokens', "
                    "'cache_write_tokens', 'cost'}, or None."),
    RFIELD("api_specific", "Provider-specific fields ({'api': ..., ...}), or None."),
    {"extra", (getter)response_get_extra, NULL, "Every other field (a dict).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef response_methods[] = {
    {"response_text", (PyCFunction)response_text, METH_NOARGS, "The response text, or None."},
    {"has_tool_calls", (PyCFunction)response_has_tool_calls, METH_NOARGS,
     "Whether the model asked for tool calls."},
    {"to_dict", (PyCFunction)annotated_to_dict, METH_NOARGS,
     "The wire form: the fields plus the extra fields, flattened (a copy)."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot response_slots[] = {
    {Py_tp_new, response_new},
    {Py_tp_dealloc, annotated_dealloc},
    {Py_tp_repr, annotated_repr},
    {Py_tp_richcompare, annotated_richcompare},
    {Py_tp_hash, PyObject_HashNotImplemented},
    {Py_tp_getset, response_getset},
    {Py_tp_methods, response_methods},
    {Py_tp_doc, "AnnotatedLLMResponse(id=None, model=None, message=None, tool_calls=None, "
                "finish_reason=None, usage=None, api_specific=None, extra=None)\n\n"
                "A provider-neutral view of an LLM response (immutable), made by a response "
                "codec and attached to the LLM end event."},
    {0, NULL},
};

static PyType_Spec response_spec = {"nemo_relay.AnnotatedLLMResponse", sizeof(AnnotatedObject), 0,
                                    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE, response_slots};

int nr_py_annotated_init(PyObject *module, nr_py_state *st)
{
    st->AnnotatedLLMRequest_Type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &request_spec, NULL);
    if (st->AnnotatedLLMRequest_Type == NULL ||
        PyModule_AddType(module, st->AnnotatedLLMRequest_Type) < 0)
        return -1;
    st->AnnotatedLLMResponse_Type =
        (PyTypeObject *)PyType_FromModuleAndSpec(module, &response_spec, NULL);
    if (st->AnnotatedLLMResponse_Type == NULL ||
        PyModule_AddType(module, st->AnnotatedLLMResponse_Type) < 0)
        return -1;
    return 0;
}
