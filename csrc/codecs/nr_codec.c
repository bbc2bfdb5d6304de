/* nr_codec.c -- dispatch of the built-in codecs and what they share. */
#include "nr_codec_impl.h"
#include "nr_pricing.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const nr_codec_ops *const OPS[NR_CODEC_COUNT] = {
    [NR_CODEC_OPENAI_CHAT] = &nr_codec_openai_chat,
    [NR_CODEC_OPENAI_RESPONSES] = &nr_codec_openai_responses,
    [NR_CODEC_ANTHROPIC_MESSAGES] = &nr_codec_anthropic_messages,
};

static const char *const REQUEST_TYPED[] = {
    "messages", "model", "params", "tools", "tool_choice", "store", "previous_response_id",
    "truncation", "reasoning", "include", "user", "metadata", "service_tier",
    "parallel_tool_calls", "max_output_tokens", "max_tool_calls", "top_logprobs", "stream", NULL};

/* the annotated fields every codec encodes itself */
static const char *const CORE[] = {"messages", "model", "params", "tools", "tool_choice", NULL};

static const char *const RESPONSE_TYPED[] = {"id",    "model",        "message", "tool_calls",
                                             "finish_reason", "usage", "api_specific", NULL};

const char *nr_codec_name(nr_codec_id id) { return OPS[id]->name; }
const char *nr_codec_provider(nr_codec_id id) { return OPS[id]->provider; }

bool nr_codec_key_in(const char *key, const char *const *keys)
{
    for (size_t i = 0; keys != NULL && keys[i] != NULL; i++)
        if (strcmp(key, keys[i]) == 0)
            return true;
    return false;
}

bool nr_annotated_request_is_typed_key(const char *key) { return nr_codec_key_in(key, REQUEST_TYPED); }
bool nr_annotated_response_is_typed_key(const char *key) { return nr_codec_key_in(key, RESPONSE_TYPED); }

void nr_codec_bad(nr_error *err, const char *label, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    nr_error_set(err, NR_E_INVALID_JSON, "%s: %s", label, text);
}

bool nr_codec_set(cJSON *obj, const char *key, cJSON *item)
{
    if (item == NULL)
        return false;
    if (cJSON_GetObjectItemCaseSensitive(obj, key) != NULL) {
        if (cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item))
            return true;
        cJSON_Delete(item);
        return false;
    }
    return nr_json_add(obj, key, item);
}

bool nr_codec_is_str(const cJSON *v, const char *s)
{
    return cJSON_IsString(v) && strcmp(v->valuestring, s) == 0;
}

bool nr_codec_append(cJSON *arr, cJSON *item)
{
    if (item != NULL && cJSON_AddItemToArray(arr, item))
        return true;
    cJSON_Delete(item);
    return false;
}

cJSON *nr_codec_nest(cJSON *obj, bool ok, const char *key, cJSON *child)
{
    if (ok && nr_json_add(obj, key, child)) /* nr_json_add takes child either way */
        return obj;
    if (!ok)
        cJSON_Delete(child);
    cJSON_Delete(obj);
    return NULL;
}

const cJSON *nr_codec_changed(const cJSON *ann, const cJSON *ref, const char *key)
{
    const cJSON *v = nr_json_get(ann, key);
    if (v == NULL || cJSON_IsNull(v))
        return NULL;
    const cJSON *r = nr_json_get(ref, key);
    return r != NULL && cJSON_Compare(v, r, true) ? NULL : v;
}

bool nr_codec_copy_as(cJSON *dst, const char *dst_key, const cJSON *src, const char *src_key)
{
    const cJSON *v = nr_json_get(src, src_key);
    if (v == NULL || cJSON_IsNull(v))
        return true;
    return nr_json_add(dst, dst_key, nr_json_dup(v));
}

bool nr_codec_copy(cJSON *dst, const cJSON *src, const char *key)
{
    return nr_codec_copy_as(dst, key, src, key);
}

bool nr_codec_copy_rest(const nr_codec_ops *ops, cJSON *ann, const cJSON *content)
{
    for (size_t i = 0; ops->passthrough[i] != NULL; i++)
        if (!nr_codec_copy(ann, content, ops->passthrough[i]))
            return false;
    for (const cJSON *it = content->child; it != NULL; it = it->next) {
        if (nr_codec_key_in(it->string, ops->modeled) || nr_codec_key_in(it->string, ops->passthrough))
            continue;
        if (nr_json_get(ann, it->string) != NULL) /* a typed key of the annotated form */
            continue;
        if (!nr_json_add(ann, it->string, nr_json_dup(it)))
            return false;
    }
    return true;
}

bool nr_codec_check_type(const nr_codec_ops *ops, const cJSON *content, const char *key, int types,
                         const char *expected, nr_error *err)
{
    const cJSON *v = nr_json_get(content, key);
    if (v == NULL || cJSON_IsNull(v) || (v->type & types) != 0)
        return true;
    nr_codec_bad(err, ops->label, "'%s' must be %s", key, expected);
    return false;
}

const cJSON *nr_codec_messages(const nr_codec_ops *ops, const cJSON *content, const char *key,
                               nr_error *err)
{
    const cJSON *m = nr_json_get(content, key);
    if (m == NULL) {
        nr_codec_bad(err, ops->label, "'%s' is missing", key);
        return NULL;
    }
    if (!cJSON_IsArray(m)) {
        nr_codec_bad(err, ops->label, "'%s' must be an array", key);
        return NULL;
    }
    int i = 0;
    for (const cJSON *it = m->child; it != NULL; it = it->next, i++) {
        if (!cJSON_IsObject(it)) {
            nr_codec_bad(err, ops->label, "'%s[%d]' must be an object", key, i);
            return NULL;
        }
    }
    i = 0;
    for (const cJSON *it = m->child; it != NULL; it = it->next, i++) {
        if (!cJSON_IsString(nr_json_get(it, "role"))) {
            nr_codec_bad(err, ops->label, "'%s[%d].role' must be a string", key, i);
            return NULL;
        }
    }
    return m;
}

bool nr_codec_is_text_part(const cJSON *part)
{
    const cJSON *t = nr_json_get(part, "type");
    return cJSON_IsString(t) && (strcmp(t->valuestring, "text") == 0 ||
                                 strcmp(t->valuestring, "input_text") == 0 ||
                                 strcmp(t->valuestring, "output_text") == 0);
}

char *nr_codec_text_of(const cJSON *content)
{
    if (cJSON_IsString(content))
        return strdup(content->valuestring);
    if (!cJSON_IsArray(content))
        return NULL;
    size_t len = 0;
    int n = 0;
    for (const cJSON *p = content->child; p != NULL; p = p->next) {
        const cJSON *t = nr_json_get(p, "text");
        if (nr_codec_is_text_part(p) && cJSON_IsString(t)) {
            len += strlen(t->valuestring) + 1;
            n++;
        }
    }
    if (n == 0)
        return NULL;
    char *out = malloc(len + 1), *w = out;
    if (out == NULL)
        return NULL;
    for (const cJSON *p = content->child; p != NULL; p = p->next) {
        const cJSON *t = nr_json_get(p, "text");
        if (nr_codec_is_text_part(p) && cJSON_IsString(t)) {
            if (w != out)
                *w++ = '\n';
            size_t l = strlen(t->valuestring);
            memcpy(w, t->valuestring, l);
            w += l;
        }
    }
    *w = '\0';
    return out;
}

cJSON *nr_codec_parse_arguments(const char *text)
{
    size_t len = text != NULL ? strlen(text) : 0;
    cJSON *j = len > 0 ? nr_json_parse(text, len, "tool call arguments", NULL) : NULL;
    return j != NULL ? j : cJSON_CreateString(text != NULL ? text : "");
}

cJSON *nr_codec_finish_reason(const char *known, const char *raw)
{
    if (known != NULL)
        return cJSON_CreateString(known);
    cJSON *o = cJSON_CreateObject();
    if (o != NULL && !nr_json_add(o, "unknown", cJSON_CreateString(raw))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

cJSON *nr_codec_count(const cJSON *n)
{
    if (!cJSON_IsNumber(n) || n->valuedouble < 0)
        return NULL;
    return cJSON_CreateNumber(n->valuedouble);
}

/* ---- the annotated request's shape ------------------------------------------ */

static bool bad_field(nr_error *err, const char *field, const char *expected)
{
    nr_error_set(err, NR_E_INVALID_JSON, "invalid %s: expected %s", field, expected);
    return false;
}

bool nr_annotated_request_check(const cJSON *obj, nr_error *err)
{
    if (!cJSON_IsObject(obj))
        return bad_field(err, "annotated request", "a JSON object");
    const cJSON *m = nr_json_get(obj, "messages");
    if (!cJSON_IsArray(m))
        return bad_field(err, "messages", "a list of message objects");
    int i = 0;
    for (const cJSON *it = m->child; it != NULL; it = it->next, i++) {
        const cJSON *role = nr_json_get(it, "role"), *type = nr_json_get(it, "type");
        if (!cJSON_IsObject(it) || (!cJSON_IsString(role) && !cJSON_IsString(type))) {
            nr_error_set(err, NR_E_INVALID_JSON,
                         "invalid messages: messages[%d] must be an object with a 'role' key "
                         "(user/system/assistant/tool)", i);
            return false;
        }
    }
    static const struct { const char *key; int types; const char *expected; } FIELDS[] = {
        {"model", cJSON_String, "a string"},
        {"params", cJSON_Object, "an object"},
        {"tools", cJSON_Array, "a list of tool objects"},
        {"tool_choice", cJSON_String | cJSON_Object, "a string or an object"},
        {"store", cJSON_True | cJSON_False, "a bool"},
        {"previous_response_id", cJSON_String, "a string"},
        {"user", cJSON_String, "a string"},
        {"service_tier", cJSON_String, "a string"},
        {"parallel_tool_calls", cJSON_True | cJSON_False, "a bool"},
        {"max_output_tokens", cJSON_Number, "an integer"},
        {"max_tool_calls", cJSON_Number, "an integer"},
        {"top_logprobs", cJSON_Number, "an integer"},
        {"stream", cJSON_True | cJSON_False, "a bool"},
    };
    for (size_t k = 0; k < sizeof FIELDS / sizeof FIELDS[0]; k++) {
        const cJSON *v = nr_json_get(obj, FIELDS[k].key);
        if (v != NULL && !cJSON_IsNull(v) && (v->type & FIELDS[k].types) == 0)
            return bad_field(err, FIELDS[k].key, FIELDS[k].expected);
    }
    const cJSON *tools = nr_json_get(obj, "tools");
    i = 0;
    for (const cJSON *t = cJSON_IsArray(tools) ? tools->child : NULL; t != NULL; t = t->next, i++) {
        if (!cJSON_IsObject(t)) {
            nr_error_set(err, NR_E_INVALID_JSON, "invalid tools: tools[%d] must be an object", i);
            return false;
        }
    }
    return true;
}

/* ---- dispatch ------------------------------------------------------------------- */

cJSON *nr_codec_decode(nr_codec_id id, const cJSON *content, nr_error *err)
{
    const nr_codec_ops *ops = OPS[id];
    if (!cJSON_IsObject(content)) {
        nr_codec_bad(err, ops->label, "the request content must be a JSON object");
        return NULL;
    }
    cJSON *ann = ops->decode(content, err);
    if (ann != NULL && !nr_codec_copy_rest(ops, ann, content)) {
        cJSON_Delete(ann);
        nr_error_nomem(err);
        return NULL;
    }
    return ann;
}

cJSON *nr_codec_encode(nr_codec_id id, const cJSON *ann, const cJSON *original,
                       const cJSON *target, nr_error *err)
{
    const nr_codec_ops *ops = OPS[id];
    if (!nr_annotated_request_check(ann, err))
        return NULL;
    if (!cJSON_IsObject(target)) {
        nr_codec_bad(err, ops->label, "the request content must be a JSON object");
        return NULL;
    }
    cJSON *ref = nr_codec_decode(id, original, err);
    if (ref == NULL)
        return NULL;
    cJSON *out = nr_json_dup(target);
    bool ok = out != NULL;
    const cJSON *v;
    if (ok && (v = nr_codec_changed(ann, ref, "model")) != NULL)
        ok = nr_codec_set(out, "model", nr_json_dup(v));
    for (size_t i = 0; ok && ops->passthrough[i] != NULL; i++)
        if ((v = nr_codec_changed(ann, ref, ops->passthrough[i])) != NULL)
            ok = nr_codec_set(out, ops->passthrough[i], nr_json_dup(v));
    /* extra: the unmodeled fields, written back where they differ */
    for (const cJSON *it = ann->child; ok && it != NULL; it = it->next) {
        if (nr_codec_key_in(it->string, CORE) || nr_codec_key_in(it->string, ops->passthrough) ||
            nr_codec_key_in(it->string, ops->derived))
            continue;
        const cJSON *was = nr_json_get(original, it->string);
        if (was == NULL || !cJSON_Compare(it, was, true))
            ok = nr_codec_set(out, it->string, nr_json_dup(it));
    }
    if (!ok)
        nr_error_nomem(err);
    else
        ok = ops->apply(ann, ref, original, out, err);
    cJSON_Delete(ref);
    if (!ok) {
        cJSON_Delete(out);
        return NULL;
    }
    return out;
}

cJSON *nr_codec_decode_response(nr_codec_id id, const cJSON *response, nr_error *err)
{
    const nr_codec_ops *ops = OPS[id];
    if (!cJSON_IsObject(response)) {
        nr_error_set(err, NR_E_INVALID_JSON, "%s response: the response must be a JSON object",
                     ops->name);
        return NULL;
    }
    cJSON *ann = ops->decode_response(response, err);
    if (ann != NULL)
        nr_pricing_attach(ann, ops->provider); /* a cost the provider reported wins */
    return ann;
}

cJSON *nr_codec_usage(const cJSON *raw, const cJSON *prompt, const cJSON *completion,
                      const cJSON *total, const cJSON *cache_read, const cJSON *cache_write)
{
    if (!cJSON_IsObject(raw))
        return NULL;
    cJSON *u = cJSON_CreateObject();
    if (u == NULL)
        return NULL;
    bool ok = true;
    if (cJSON_IsNumber(prompt))
        ok = ok && nr_json_add(u, "prompt_tokens", nr_codec_count(prompt));
    if (cJSON_IsNumber(completion))
        ok = ok && nr_json_add(u, "completion_tokens", nr_codec_count(completion));
    if (cJSON_IsNumber(total))
        ok = ok && nr_json_add(u, "total_tokens", nr_codec_count(total));
    else if (cJSON_IsNumber(prompt) && cJSON_IsNumber(completion))
        ok = ok && nr_json_add(u, "total_tokens",
                               cJSON_CreateNumber(prompt->valuedouble + completion->valuedouble));
    if (cJSON_IsNumber(cache_read))
        ok = ok && nr_json_add(u, "cache_read_tokens", nr_codec_count(cache_read));
    if (cJSON_IsNumber(cache_write))
        ok = ok && nr_json_add(u, "cache_write_tokens", nr_codec_count(cache_write));
    /* a cost the provider reported wins over any estimate */
    const cJSON *usd = nr_json_get(raw, "cost_usd"), *cost = nr_json_get(raw, "cost");
    const cJSON *amount = cJSON_IsNumber(usd) ? usd : cJSON_IsNumber(cost) ? cost
                          : nr_json_get(cost, "total");
    if (ok && cJSON_IsNumber(amount)) {
        cJSON *c = cJSON_CreateObject();
        const cJSON *cur = nr_json_get(cost, "currency");
        bool cok = c != NULL && nr_json_add(c, "total", cJSON_CreateNumber(amount->valuedouble)) &&
                   nr_json_add(c, "currency",
                               cJSON_CreateString(cJSON_IsString(cur) && amount != usd
                                                      ? cur->valuestring : "USD")) &&
                   nr_json_add(c, "source", cJSON_CreateString("provider_reported"));
        if (cok) {
            ok = nr_json_add(u, "cost", c);
        } else {
            cJSON_Delete(c);
            ok = false;
        }
    }
    if (!ok) {
        cJSON_Delete(u);
        return NULL;
    }
    return u;
}

bool nr_codec_add_extra(cJSON *ann, const cJSON *response, const char *const *known)
{
    for (const cJSON *it = response->child; it != NULL; it = it->next) {
        if (nr_codec_key_in(it->string, known) || nr_json_get(ann, it->string) != NULL)
            continue;
        if (!nr_json_add(ann, it->string, nr_json_dup(it)))
            return false;
    }
    return true;
}

/* params from temperature, top_p, max_(completion_)tokens and stop */
static bool decode_params_impl(cJSON *ann, const cJSON *content, const char *max_key_a,
                          const char *max_key_b, const char *stop_key)
{
    cJSON *p = cJSON_CreateObject();
    if (p == NULL)
        return false;
    const cJSON *t = nr_json_get(content, "temperature"), *tp = nr_json_get(content, "top_p");
    const cJSON *mx = nr_json_get(content, max_key_a);
    if (!cJSON_IsNumber(mx) && max_key_b != NULL)
        mx = nr_json_get(content, max_key_b);
    const cJSON *stop = stop_key != NULL ? nr_json_get(content, stop_key) : NULL;
    bool ok = true;
    if (cJSON_IsNumber(t))
        ok = ok && nr_json_add(p, "temperature", nr_json_dup(t));
    if (cJSON_IsNumber(mx))
        ok = ok && nr_json_add(p, "max_tokens", nr_json_dup(mx));
    if (cJSON_IsNumber(tp))
        ok = ok && nr_json_add(p, "top_p", nr_json_dup(tp));
    if (cJSON_IsString(stop)) {
        cJSON *a = cJSON_CreateArray();
        ok = ok && a != NULL && nr_json_add(p, "stop", a) &&
             cJSON_AddItemToArray(a, cJSON_CreateString(stop->valuestring));
    } else if (cJSON_IsArray(stop)) {
        ok = ok && nr_json_add(p, "stop", nr_json_dup(stop));
    }
    if (!ok || p->child == NULL) {
        cJSON_Delete(p);
        return ok;
    }
    return nr_json_add(ann, "params", p);
}

bool nr_codec_decode_params(cJSON *ann, const cJSON *content, const char *max_key_a,
                            const char *max_key_b, const char *stop_key)
{
    return decode_params_impl(ann, content, max_key_a, max_key_b, stop_key);
}

bool nr_codec_apply_params(const cJSON *ann, const cJSON *ref, const cJSON *original, cJSON *out,
                           const char *max_key_a, const char *max_key_b, const char *stop_key)
{
    const cJSON *p = nr_json_get(ann, "params"), *rp = nr_json_get(ref, "params");
    if (!cJSON_IsObject(p))
        return true;
    const cJSON *v;
    bool ok = true;
    if ((v = nr_codec_changed(p, rp, "temperature")) != NULL)
        ok = ok && nr_codec_set(out, "temperature", nr_json_dup(v));
    if ((v = nr_codec_changed(p, rp, "top_p")) != NULL)
        ok = ok && nr_codec_set(out, "top_p", nr_json_dup(v));
    if (stop_key != NULL && (v = nr_codec_changed(p, rp, "stop")) != NULL)
        ok = ok && nr_codec_set(out, stop_key, nr_json_dup(v));
    if ((v = nr_codec_changed(p, rp, "max_tokens")) != NULL) {
        const char *key = max_key_b != NULL && nr_json_get(original, max_key_b) != NULL &&
                                  nr_json_get(original, max_key_a) == NULL
                              ? max_key_b
                              : max_key_a;
        ok = ok && nr_codec_set(out, key, nr_json_dup(v));
    }
    return ok;
}


/* ---- provider detection ------------------------------------------------------------ */

int nr_codec_detect_request(const cJSON *content)
{
    if (!cJSON_IsObject(content))
        return -1;
    if (nr_json_get(content, "input") != NULL || nr_json_get(content, "instructions") != NULL)
        return NR_CODEC_OPENAI_RESPONSES;
    if (nr_json_get(content, "system") != NULL)
        return NR_CODEC_ANTHROPIC_MESSAGES;
    if (nr_json_get(content, "messages") != NULL)
        return NR_CODEC_OPENAI_CHAT;
    return -1;
}

int nr_codec_detect_response(const cJSON *r)
{
    if (!cJSON_IsObject(r))
        return -1;
    const cJSON *type = nr_json_get(r, "type"), *object = nr_json_get(r, "object");
    bool chat = cJSON_IsArray(nr_json_get(r, "choices"));
    bool anthropic = cJSON_IsString(type) && strcmp(type->valuestring, "message") == 0 &&
                     cJSON_IsArray(nr_json_get(r, "content"));
    bool responses = cJSON_IsArray(nr_json_get(r, "output")) &&
                     (object == NULL || (cJSON_IsString(object) && strcmp(object->valuestring, "response") == 0));
    if (chat + anthropic + responses != 1)
        return -1;
    return chat ? NR_CODEC_OPENAI_CHAT : anthropic ? NR_CODEC_ANTHROPIC_MESSAGES : NR_CODEC_OPENAI_RESPONSES;
}
