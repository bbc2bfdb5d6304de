/* py_codecs.c -- built-in codec classes and the codec bridge. */
#include "py_codecs.h"

#include "nr_codec.h"
#include "nr_json.h"
#include "nr_pricing.h"
#include "py_annotated.h"
#include "py_call.h"
#include "py_convert.h"
#include "py_llm_request.h"

#include <stdio.h>
#include <string.h>

/* ---- the built-in classes --------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
} CodecObject;

/* The codec id of a built-in codec object, or -1. */
static int builtin_id(PyObject *obj)
{
    nr_py_state *st = nr_py_get_state();
    PyTypeObject *t = Py_TYPE(obj);
    if (t == st->OpenAIChatCodec_Type)
        return NR_CODEC_OPENAI_CHAT;
    if (t == st->OpenAIResponsesCodec_Type)
        return NR_CODEC_OPENAI_RESPONSES;
    if (t == st->AnthropicMessagesCodec_Type)
        return NR_CODEC_ANTHROPIC_MESSAGES;
    return -1;
}

static PyObject *codec_decode(PyObject *self, PyObject *request)
{
    if (!nr_py_is_llm_request(request))
        return PyErr_Format(PyExc_TypeError, "decode() expects an LLMRequest, not %.100s",
                            Py_TYPE(request)->tp_name);
    const cJSON *content = nr_py_llm_request_content_json(request);
    if (content == NULL)
        return NULL;
    nr_error err = NR_ERROR_INIT;
    cJSON *ann = nr_codec_decode((nr_codec_id)builtin_id(self), content, &err);
    return ann != NULL ? nr_py_annotated_request_wrap(ann) : nr_py_raise(&err);
}

/* A new LLMRequest: headers copied from `from`, content adopted from json. */
static PyObject *request_with(PyObject *from, cJSON *json)
{
    PyObject *h, *c;
    nr_py_llm_request_parts(from, &h, &c);
    PyObject *headers = nr_py_json_copy(h);
    PyObject *content = headers != NULL ? nr_py_from_cjson(json) : NULL;
    if (content == NULL) {
        Py_XDECREF(headers);
        cJSON_Delete(json);
        return NULL;
    }
    return nr_py_llm_request_adopt(headers, content, json);
}

static PyObject *codec_encode(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2)
        return PyErr_Format(PyExc_TypeError, "encode() takes (annotated, original)");
    if (!nr_py_is_annotated_request(args[0]))
        return PyErr_Format(PyExc_TypeError, "encode() expects an AnnotatedLLMRequest, not %.100s",
                            Py_TYPE(args[0])->tp_name);
    if (!nr_py_is_llm_request(args[1]))
        return PyErr_Format(PyExc_TypeError, "encode() expects the original LLMRequest, not %.100s",
                            Py_TYPE(args[1])->tp_name);
    const cJSON *content = nr_py_llm_request_content_json(args[1]);
    if (content == NULL)
        return NULL;
    nr_error err = NR_ERROR_INIT;
    cJSON *out = nr_codec_encode((nr_codec_id)builtin_id(self), nr_py_annotated_json(args[0]),
                                 content, content, &err);
    return out != NULL ? request_with(args[1], out) : nr_py_raise(&err);
}

static PyObject *codec_decode_response(PyObject *self, PyObject *response)
{
    cJSON *j = nr_py_to_cjson(response);
    if (j == NULL)
        return NULL;
    nr_error err = NR_ERROR_INIT;
    cJSON *ann = nr_codec_decode_response((nr_codec_id)builtin_id(self), j, &err);
    cJSON_Delete(j);
    return ann != NULL ? nr_py_annotated_response_wrap(ann) : nr_py_raise(&err);
}

/* aggregate(chunks) -> the response a non-streaming call would have returned */
static PyObject *codec_aggregate(PyObject *self, PyObject *chunks)
{
    PyObject *seq = PySequence_Fast(chunks, "aggregate() expects a list of chunks");
    if (seq == NULL)
        return NULL;
    nr_stream_agg *agg = nr_stream_agg_new((nr_codec_id)builtin_id(self));
    if (agg == NULL) {
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    PyObject *r = NULL;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        cJSON *j = nr_py_to_cjson(PySequence_Fast_GET_ITEM(seq, i));
        if (j == NULL)
            goto done;
        nr_stream_agg_observe(agg, j);
        cJSON_Delete(j);
    }
    cJSON *out = nr_stream_agg_result(agg);
    r = out != NULL ? nr_py_from_cjson(out) : PyErr_NoMemory();
    cJSON_Delete(out);
done:
    nr_stream_agg_free(agg);
    Py_DECREF(seq);
    return r;
}

static PyObject *codec_repr(PyObject *self)
{
    return PyUnicode_FromFormat("%s()", nr_codec_name((nr_codec_id)builtin_id(self)));
}

static PyObject *codec_richcompare(PyObject *a, PyObject *b, int op)
{
    if ((op != Py_EQ && op != Py_NE) || builtin_id(b) < 0)
        Py_RETURN_NOTIMPLEMENTED;
    int eq = Py_TYPE(a) == Py_TYPE(b);
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static Py_hash_t codec_hash(PyObject *self)
{
    return (Py_hash_t)builtin_id(self) + 1;
}

static PyMethodDef codec_methods[] = {
    {"decode", codec_decode, METH_O,
     "decode(request: LLMRequest) -> AnnotatedLLMRequest"},
    {"encode", (PyCFunction)(void (*)(void))codec_encode, METH_FASTCALL,
     "encode(annotated, original) -> LLMRequest: the original with the annotated edits; "
     "fields the annotated view does not model are kept unchanged."},
    {"decode_response", codec_decode_response, METH_O,
     "decode_response(response) -> AnnotatedLLMResponse"},
    {"aggregate", codec_aggregate, METH_O,
     "aggregate(chunks) -> the provider's non-streaming response built from streaming chunks."},
    {NULL, NULL, 0, NULL},
};

#define CODEC_SLOTS(doc)                                                                      \
    {                                                                                         \
        {Py_tp_methods, codec_methods}, {Py_tp_repr, codec_repr},                             \
            {Py_tp_richcompare, codec_richcompare}, {Py_tp_hash, codec_hash},                 \
            {Py_tp_doc, doc}, {0, NULL},                                                      \
    }

static PyType_Slot chat_slots[] = CODEC_SLOTS(
    "OpenAIChatCodec() -- OpenAI Chat Completions requests, responses and stream chunks.");
static PyType_Slot responses_slots[] = CODEC_SLOTS(
    "OpenAIResponsesCodec() -- OpenAI Responses requests, responses and stream events.");
static PyType_Slot anthropic_slots[] = CODEC_SLOTS(
    "AnthropicMessagesCodec() -- Anthropic Messages requests, responses and stream events.");

static PyType_Spec chat_spec = {"nemo_relay.codecs.OpenAIChatCodec", sizeof(CodecObject), 0,
                                Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE, chat_slots};
static PyType_Spec responses_spec = {"nemo_relay.codecs.OpenAIResponsesCodec", sizeof(CodecObject),
                                     0, Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
                                     responses_slots};
static PyType_Spec anthropic_spec = {"nemo_relay.codecs.AnthropicMessagesCodec",
                                     sizeof(CodecObject), 0,
                                     Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE, anthropic_slots};

/* ---- built-in codecs for the runtime (no GIL unless a value is Python) ------------ */

static const cJSON *part_of(nr_value *v, const char *key, nr_error *err)
{
    const cJSON *j = nr_value_json(v, err);
    return j != NULL ? nr_json_get(j, key) : NULL;
}

static NemoRelayStatus builtin_decode(void *ud, nr_value *request, nr_value **out, nr_error *err)
{
    const cJSON *content = part_of(request, "content", err);
    if (content == NULL)
        return err->status != NEMO_RELAY_STATUS_OK
                   ? err->status
                   : nr_error_set(err, NR_E_INVALID_JSON, "the request has no content");
    cJSON *ann = nr_codec_decode((nr_codec_id)(intptr_t)ud, content, err);
    if (ann == NULL)
        return nr_error_status(err);
    *out = nr_value_from_json(ann);
    return *out != NULL ? NEMO_RELAY_STATUS_OK : nr_error_nomem(err);
}

static NemoRelayStatus builtin_encode(void *ud, nr_value *annotated, nr_value *original,
                                      nr_value *current, nr_value **out, nr_error *err)
{
    const cJSON *ann = nr_value_json(annotated, err);
    const cJSON *orig = ann != NULL ? part_of(original, "content", err) : NULL;
    const cJSON *cur = orig != NULL ? nr_value_json(current, err) : NULL;
    if (cur == NULL)
        return nr_error_status(err) != NEMO_RELAY_STATUS_OK
                   ? nr_error_status(err)
                   : nr_error_set(err, NR_E_INVALID_JSON, "the request has no content");
    cJSON *content = nr_codec_encode((nr_codec_id)(intptr_t)ud, ann, orig,
                                     nr_json_get(cur, "content"), err);
    if (content == NULL)
        return nr_error_status(err);
    cJSON *req = cJSON_CreateObject();
    const cJSON *headers = nr_json_get(cur, "headers");
    if (req == NULL || !nr_json_add(req, "headers", headers != NULL ? nr_json_dup(headers)
                                                                    : cJSON_CreateObject()) ||
        !nr_json_add(req, "content", content)) {
        if (req == NULL)
            cJSON_Delete(content);
        cJSON_Delete(req);
        return nr_error_nomem(err);
    }
    *out = nr_value_from_json(req);
    return *out != NULL ? NEMO_RELAY_STATUS_OK : nr_error_nomem(err);
}

static NemoRelayStatus builtin_decode_response(void *ud, nr_value *response, nr_value **out,
                                               nr_error *err)
{
    const cJSON *j = nr_value_json(response, err);
    if (j == NULL)
        return nr_error_status(err);
    cJSON *ann = nr_codec_decode_response((nr_codec_id)(intptr_t)ud, j, err);
    if (ann == NULL)
        return nr_error_status(err);
    *out = nr_value_from_json(ann);
    return *out != NULL ? NEMO_RELAY_STATUS_OK : nr_error_nomem(err);
}

/* ---- Python codecs ------------------------------------------------------------------ */

/* Replaces the pending exception by errors.CodecError naming the codec and
 * the step, chained to it (interruptions are left as they are). */
static void name_codec_failure(const char *codec, const char *step)
{
    PyObject *type, *exc, *tb;
    PyErr_Fetch(&type, &exc, &tb);
    PyErr_NormalizeException(&type, &exc, &tb);
    if (exc == NULL || PyObject_IsInstance(exc, PyExc_Exception) != 1) {
        PyErr_Restore(type, exc, tb);
        return;
    }
    if (tb != NULL)
        PyException_SetTraceback(exc, tb);
    PyObject *errors = PyImport_ImportModule("nemo_relay.errors");
    PyObject *cls = errors != NULL ? PyObject_GetAttrString(errors, "CodecError") : NULL;
    PyObject *holder;
    const char *text = nr_py_exc_text(exc, &holder);
    PyObject *msg = PyUnicode_FromFormat("codec %s.%s() failed: %s: %s", codec, step,
                                         Py_TYPE(exc)->tp_name, text);
    Py_XDECREF(holder);
    PyObject *kw = msg != NULL ? Py_BuildValue("{s:s}", "codec", codec) : NULL;
    PyObject *args = kw != NULL ? PyTuple_Pack(1, msg) : NULL;
    PyObject *wrapped = args != NULL && cls != NULL ? PyObject_Call(cls, args, kw) : NULL;
    Py_XDECREF(args);
    Py_XDECREF(kw);
    Py_XDECREF(msg);
    Py_XDECREF(cls);
    Py_XDECREF(errors);
    if (wrapped == NULL) { /* keep the original */
        PyErr_Clear();
        PyErr_Restore(type, exc, tb);
        return;
    }
    PyException_SetCause(wrapped, Py_NewRef(exc));
    PyException_SetContext(wrapped, Py_NewRef(exc));
    Py_XDECREF(type);
    Py_XDECREF(exc);
    Py_XDECREF(tb);
    PyErr_SetObject((PyObject *)Py_TYPE(wrapped), wrapped);
    Py_DECREF(wrapped);
}

/* Calls obj.method(*args) (a synchronous result); on failure the exception
 * names the codec.  New reference or NULL. */
static PyObject *call_codec(PyObject *obj, const char *name, const char *method,
                            PyObject *const *args, size_t nargs)
{
    PyObject *fn = PyObject_GetAttrString(obj, method);
    PyObject *r = fn != NULL ? nr_py_invoke_sync(NULL, fn, args, nargs) : NULL;
    Py_XDECREF(fn);
    if (r == NULL)
        name_codec_failure(name, method);
    return r;
}

/* Takes r; raises TypeError naming the codec and returns NULL. */
static PyObject *wrong_type(const char *codec, const char *method, PyObject *r, const char *expected)
{
    PyErr_Format(PyExc_TypeError, "codec %s.%s() returned %.100s; expected %s", codec, method,
                 Py_TYPE(r)->tp_name, expected);
    Py_DECREF(r);
    return NULL;
}

/* Calls obj.method(arg) and stores the JSON of its result, which must pass
 * is_annotated, in *out.  Takes arg (NULL: making it failed, exception
 * set).  Call with the GIL held. */
static NemoRelayStatus decode_with(PyObject *obj, const char *name, const char *method,
                                   PyObject *arg, int (*is_annotated)(PyObject *),
                                   const char *expected, nr_value **out, nr_error *err)
{
    PyObject *r = arg != NULL ? call_codec(obj, name, method, &arg, 1) : NULL;
    Py_XDECREF(arg);
    if (r != NULL && !is_annotated(r))
        r = wrong_type(name, method, r, expected);
    cJSON *j = r != NULL ? cJSON_Duplicate(nr_py_annotated_json(r), true) : NULL;
    Py_XDECREF(r);
    if (j == NULL)
        return PyErr_Occurred() ? nr_py_capture_exception(err, NULL) : nr_error_nomem(err);
    *out = nr_value_from_json(j);
    return *out != NULL ? NEMO_RELAY_STATUS_OK : nr_error_nomem(err);
}

static NemoRelayStatus py_decode(void *ud, nr_value *request, nr_value **out, nr_error *err)
{
    nr_py_codecs *c = ud;
    PyGILState_STATE g = PyGILState_Ensure();
    NemoRelayStatus st = decode_with(c->codec_obj, c->codec_name, "decode",
                                     nr_py_llm_request_from_value(request, "LLM request"),
                                     nr_py_is_annotated_request, "AnnotatedLLMRequest", out, err);
    PyGILState_Release(g);
    return st;
}

static NemoRelayStatus py_encode(void *ud, nr_value *annotated, nr_value *original,
                                 nr_value *current, nr_value **out, nr_error *err)
{
    nr_py_codecs *c = ud;
    PyGILState_STATE g = PyGILState_Ensure();
    NemoRelayStatus st = NEMO_RELAY_STATUS_OK;
    const cJSON *aj = nr_value_json(annotated, err);
    PyObject *args[2] = {NULL, NULL}, *r = NULL, *cur = NULL, *req = NULL;
    if (aj == NULL) {
        st = nr_error_status(err);
        goto done;
    }
    args[0] = nr_py_annotated_request_wrap(cJSON_Duplicate(aj, true));
    args[1] = args[0] != NULL ? nr_py_llm_request_from_value(original, "LLM request") : NULL;
    cur = args[1] != NULL ? nr_py_llm_request_from_value(current, "LLM request") : NULL;
    r = cur != NULL ? call_codec(c->codec_obj, c->codec_name, "encode", args, 2) : NULL;
    if (r != NULL && !nr_py_is_llm_request(r))
        r = wrong_type(c->codec_name, "encode", r, "LLMRequest");
    if (r != NULL) {
        /* the intercepts' headers, the codec's content */
        PyObject *h, *content, *h2, *unused;
        nr_py_llm_request_parts(cur, &h, &unused);
        nr_py_llm_request_parts(r, &h2, &content);
        req = nr_py_llm_request_new(h, content);
    }
    if (req != NULL && (*out = nr_py_value_wrap(req)) != NULL) {
        /* native middleware reads JSON without the GIL: convert it now */
        if (nr_registry_native_count() > 0 && nr_value_json(*out, err) == NULL)
            st = nr_error_status(err);
    } else {
        st = PyErr_Occurred() ? nr_py_capture_exception(err, NULL) : nr_error_nomem(err);
    }
done:
    Py_XDECREF(args[0]);
    Py_XDECREF(args[1]);
    Py_XDECREF(cur);
    Py_XDECREF(r);
    Py_XDECREF(req);
    PyGILState_Release(g);
    return st;
}

static NemoRelayStatus py_decode_response(void *ud, nr_value *response, nr_value **out,
                                          nr_error *err)
{
    nr_py_codecs *c = ud;
    PyGILState_STATE g = PyGILState_Ensure();
    NemoRelayStatus st = decode_with(c->rcodec_obj, c->rcodec_name, "decode_response",
                                     nr_py_value_to_py(response), nr_py_is_annotated_response,
                                     "AnnotatedLLMResponse", out, err);
    PyGILState_Release(g);
    return st;
}

/* ---- the bridge ------------------------------------------------------------------------ */

static int has_method(PyObject *obj, const char *name)
{
    PyObject *m = PyObject_GetAttrString(obj, name);
    if (m == NULL) {
        PyErr_Clear();
        return 0;
    }
    int ok = PyCallable_Check(m);
    Py_DECREF(m);
    return ok;
}

static void type_name(PyObject *obj, char *buf, size_t n)
{
    int id = builtin_id(obj);
    const char *full = Py_TYPE(obj)->tp_name, *dot = strrchr(full, '.');
    snprintf(buf, n, "%s", id >= 0 ? nr_codec_name((nr_codec_id)id) : dot != NULL ? dot + 1 : full);
}

int nr_py_codecs_set(nr_py_codecs *c, PyObject *codec, PyObject *rcodec)
{
    if (codec != NULL && codec != Py_None) {
        int id = builtin_id(codec);
        if (id < 0 && (!has_method(codec, "decode") || !has_method(codec, "encode"))) {
            PyErr_Format(PyExc_TypeError,
                         "codec must implement LlmCodec (decode and encode), not %.100s",
                         Py_TYPE(codec)->tp_name);
            return -1;
        }
        type_name(codec, c->codec_name, sizeof c->codec_name);
        c->codec_obj = Py_NewRef(codec);
        c->codec.name = c->codec_name;
        if (id >= 0) {
            c->codec.ud = (void *)(intptr_t)id;
            c->codec.decode = builtin_decode;
            c->codec.encode = builtin_encode;
        } else {
            c->codec.ud = c;
            c->codec.decode = py_decode;
            c->codec.encode = py_encode;
        }
    }
    if (rcodec != NULL && rcodec != Py_None) {
        int id = builtin_id(rcodec);
        if (id < 0 && !has_method(rcodec, "decode_response")) {
            PyErr_Format(PyExc_TypeError,
                         "response_codec must implement LlmResponseCodec (decode_response), "
                         "not %.100s",
                         Py_TYPE(rcodec)->tp_name);
            return -1;
        }
        type_name(rcodec, c->rcodec_name, sizeof c->rcodec_name);
        c->rcodec_obj = Py_NewRef(rcodec);
        c->rcodec.name = c->rcodec_name;
        c->rcodec.builtin = id + 1;
        c->rcodec.ud = id >= 0 ? (void *)(intptr_t)id : (void *)c;
        c->rcodec.decode_response = id >= 0 ? builtin_decode_response : py_decode_response;
    }
    return 0;
}

void nr_py_codecs_clear(nr_py_codecs *c)
{
    Py_CLEAR(c->codec_obj);
    Py_CLEAR(c->rcodec_obj);
}

const nr_llm_codec *nr_py_codecs_request(const nr_py_codecs *c)
{
    return c->codec_obj != NULL ? &c->codec : NULL;
}

const nr_llm_response_codec *nr_py_codecs_response(const nr_py_codecs *c)
{
    return c->rcodec_obj != NULL ? &c->rcodec : NULL;
}

/* _normalize_request(request) / _normalize_response(raw): the built-in codec
 * whose format the payload has decodes it; None when none matches or the
 * decode fails (best effort, as upstream's normalization). */
static PyObject *normalize_request(PyObject *mod, PyObject *request)
{
    (void)mod;
    if (!nr_py_is_llm_request(request))
        return PyErr_Format(PyExc_TypeError, "normalize_request() expects an LLMRequest, not %.100s",
                            Py_TYPE(request)->tp_name);
    const cJSON *content = nr_py_llm_request_content_json(request);
    if (content == NULL)
        return NULL;
    int id = nr_codec_detect_request(content);
    nr_error err = NR_ERROR_INIT;
    cJSON *ann = id >= 0 ? nr_codec_decode((nr_codec_id)id, content, &err) : NULL;
    nr_error_clear(&err);
    if (ann == NULL)
        Py_RETURN_NONE;
    return nr_py_annotated_request_wrap(ann);
}

static PyObject *normalize_response(PyObject *mod, PyObject *response)
{
    (void)mod;
    cJSON *j = nr_py_to_cjson(response);
    if (j == NULL)
        return NULL;
    int id = nr_codec_detect_response(j);
    nr_error err = NR_ERROR_INIT;
    cJSON *ann = id >= 0 ? nr_codec_decode_response((nr_codec_id)id, j, &err) : NULL;
    nr_error_clear(&err);
    cJSON_Delete(j);
    if (ann == NULL)
        Py_RETURN_NONE;
    return nr_py_annotated_response_wrap(ann);
}

/* _pricing_register_kind(): registers the built-in `pricing` plugin kind
 * (once; a configuration that names it does this first). */
static PyObject *pricing_register_kind(PyObject *mod, PyObject *unused)
{
    (void)mod;
    (void)unused;
    nr_error err = NR_ERROR_INIT;
    if (!nr_pricing_register_kind(&err))
        return nr_py_raise(&err);
    Py_RETURN_NONE;
}

static PyMethodDef normalize_methods[] = {
    {"_pricing_register_kind", pricing_register_kind, METH_NOARGS, NULL},
    {"_normalize_request", normalize_request, METH_O, NULL},
    {"_normalize_response", normalize_response, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

int nr_py_codecs_init(PyObject *module, nr_py_state *st)
{
    if (PyModule_AddFunctions(module, normalize_methods) < 0)
        return -1;
    /* the classes live in nemo_relay.codecs; the module re-exports them */
    st->OpenAIChatCodec_Type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &chat_spec, NULL);
    st->OpenAIResponsesCodec_Type =
        (PyTypeObject *)PyType_FromModuleAndSpec(module, &responses_spec, NULL);
    st->AnthropicMessagesCodec_Type =
        (PyTypeObject *)PyType_FromModuleAndSpec(module, &anthropic_spec, NULL);
    if (st->OpenAIChatCodec_Type == NULL || st->OpenAIResponsesCodec_Type == NULL ||
        st->AnthropicMessagesCodec_Type == NULL ||
        PyModule_AddType(module, st->OpenAIChatCodec_Type) < 0 ||
        PyModule_AddType(module, st->OpenAIResponsesCodec_Type) < 0 ||
        PyModule_AddType(module, st->AnthropicMessagesCodec_Type) < 0)
        return -1;
    return 0;
}
