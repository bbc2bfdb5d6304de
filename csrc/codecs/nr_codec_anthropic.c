/* nr_codec_anthropic.c -- Anthropic Messages requests and responses.
 * The system prompt becomes a leading {"role": "system"} message; messages
 * keep Anthropic's content blocks (text, image, tool_use, tool_result);
 * tools and tool_choice are shown in the OpenAI-style annotated shape. */
#include "nr_codec_impl.h"

#include <stdlib.h>
#include <string.h>

#define LABEL "AnthropicMessagesCodec request"

static const char *const PASSTHROUGH[] = {"metadata", "service_tier", NULL};
static const char *const MODELED[] = {"system", "messages", "model", "max_tokens", "temperature",
                                      "top_p", "stop_sequences", "tools", "tool_choice", NULL};
static const char *const DERIVED[] = {"parallel_tool_calls", NULL};

static cJSON *decode(const cJSON *content, nr_error *err);
static bool apply(const cJSON *ann, const cJSON *ref, const cJSON *original, cJSON *out,
                  nr_error *err);
static cJSON *decode_response(const cJSON *response, nr_error *err);

const nr_codec_ops nr_codec_anthropic_messages = {
    "AnthropicMessagesCodec", LABEL, "anthropic", PASSTHROUGH, MODELED, DERIVED,
    decode, apply, decode_response};

/* An Anthropic tool in the annotated shape, or NULL (no name). */
static cJSON *norm_tool(const cJSON *raw)
{
    const cJSON *name = nr_json_get(raw, "name");
    if (!cJSON_IsString(name))
        return NULL;
    cJSON *t = cJSON_CreateObject(), *fn = cJSON_CreateObject();
    bool ok = t != NULL && fn != NULL && nr_json_add(t, "type", cJSON_CreateString("function")) &&
              nr_json_add(fn, "name", cJSON_CreateString(name->valuestring)) &&
              nr_codec_copy(fn, raw, "description") &&
              nr_codec_copy_as(fn, "parameters", raw, "input_schema");
    return nr_codec_nest(t, ok, "function", fn);
}

static cJSON *norm_tool_choice(const cJSON *tc)
{
    const cJSON *type = nr_json_get(tc, "type");
    if (nr_codec_is_str(type, "auto"))
        return cJSON_CreateString("auto");
    if (nr_codec_is_str(type, "any"))
        return cJSON_CreateString("required");
    if (nr_codec_is_str(type, "none"))
        return cJSON_CreateString("none");
    const cJSON *name = nr_json_get(tc, "name");
    if (nr_codec_is_str(type, "tool") && cJSON_IsString(name)) {
        cJSON *o = cJSON_CreateObject(), *f = cJSON_CreateObject();
        bool ok = o != NULL && f != NULL &&
                  nr_json_add(f, "name", cJSON_CreateString(name->valuestring)) &&
                  nr_json_add(o, "type", cJSON_CreateString("function"));
        return nr_codec_nest(o, ok, "function", f);
    }
    return NULL;
}

static cJSON *decode(const cJSON *content, nr_error *err)
{
    const nr_codec_ops *ops = &nr_codec_anthropic_messages;
    const cJSON *messages = nr_codec_messages(ops, content, "messages", err);
    if (messages == NULL ||
        !nr_codec_check_type(ops, content, "model", cJSON_String, "a string", err) ||
        !nr_codec_check_type(ops, content, "system", cJSON_String | cJSON_Array,
                             "a string or an array of text blocks", err) ||
        !nr_codec_check_type(ops, content, "tools", cJSON_Array, "an array", err) ||
        !nr_codec_check_type(ops, content, "tool_choice", cJSON_Object, "an object", err) ||
        !nr_codec_check_type(ops, content, "max_tokens", cJSON_Number, "a number", err))
        return NULL;
    cJSON *ann = cJSON_CreateObject(), *msgs = cJSON_CreateArray();
    bool ok = ann != NULL && msgs != NULL;
    if (ok) {
        ok = nr_json_add(ann, "messages", msgs);
        msgs = NULL;
    }
    cJSON *out = ok ? cJSON_GetObjectItemCaseSensitive(ann, "messages") : NULL;
    char *system = nr_codec_text_of(nr_json_get(content, "system"));
    if (ok && system != NULL) {
        cJSON *s = cJSON_CreateObject();
        ok = s != NULL && nr_json_add(s, "role", cJSON_CreateString("system")) &&
             nr_json_add(s, "content", cJSON_CreateString(system));
        if (ok)
            ok = cJSON_AddItemToArray(out, s);
        else
            cJSON_Delete(s);
    }
    free(system);
    for (const cJSON *m = messages->child; ok && m != NULL; m = m->next) {
        cJSON *d = nr_json_dup(m);
        ok = d != NULL && cJSON_AddItemToArray(out, d);
        if (!ok)
            cJSON_Delete(d);
    }
    ok = ok && nr_codec_copy(ann, content, "model") &&
         nr_codec_decode_params(ann, content, "max_tokens", NULL, "stop_sequences");
    const cJSON *tools = nr_json_get(content, "tools");
    if (ok && cJSON_IsArray(tools)) {
        cJSON *arr = cJSON_CreateArray();
        ok = arr != NULL;
        for (const cJSON *t = tools->child; ok && t != NULL; t = t->next) {
            cJSON *n = norm_tool(t);
            if (n != NULL && !cJSON_AddItemToArray(arr, n)) {
                cJSON_Delete(n);
                ok = false;
            }
        }
        if (ok)
            ok = nr_json_add(ann, "tools", arr);
        else
            cJSON_Delete(arr);
    }
    const cJSON *tc = nr_json_get(content, "tool_choice");
    if (ok && cJSON_IsObject(tc)) {
        cJSON *n = norm_tool_choice(tc);
        if (n != NULL)
            ok = nr_json_add(ann, "tool_choice", n);
        const cJSON *dp = nr_json_get(tc, "disable_parallel_tool_use");
        if (ok && cJSON_IsBool(dp))
            ok = nr_json_add(ann, "parallel_tool_calls", cJSON_CreateBool(!cJSON_IsTrue(dp)));
    }
    cJSON_Delete(msgs);
    if (!ok) {
        cJSON_Delete(ann);
        nr_error_nomem(err);
        return NULL;
    }
    return ann;
}

/* ---- encode ---------------------------------------------------------------------- */

/* The system messages' text joined, or NULL (malloc'd). */
static char *system_text(const cJSON *messages)
{
    char *acc = NULL;
    for (const cJSON *m = cJSON_IsArray(messages) ? messages->child : NULL; m != NULL; m = m->next) {
        if (!nr_codec_is_str(nr_json_get(m, "role"), "system"))
            continue;
        char *t = nr_codec_text_of(nr_json_get(m, "content"));
        if (t == NULL)
            continue;
        if (acc == NULL) {
            acc = t;
            continue;
        }
        size_t a = strlen(acc), b = strlen(t);
        char *j = realloc(acc, a + b + 2);
        if (j != NULL) {
            j[a] = '\n';
            memcpy(j + a + 1, t, b + 1);
            acc = j;
        }
        free(t);
    }
    return acc;
}

/* An annotated content part in Anthropic's shape (images given as URLs). */
static cJSON *anthropic_part(const cJSON *part)
{
    const cJSON *url = nr_json_get(nr_json_get(part, "image_url"), "url");
    if (!nr_codec_is_str(nr_json_get(part, "type"), "image_url") || !cJSON_IsString(url))
        return nr_json_dup(part);
    cJSON *b = cJSON_CreateObject(), *src = cJSON_CreateObject();
    bool ok = b != NULL && src != NULL && nr_json_add(src, "type", cJSON_CreateString("url")) &&
              nr_json_add(src, "url", cJSON_CreateString(url->valuestring)) &&
              nr_json_add(b, "type", cJSON_CreateString("image"));
    return nr_codec_nest(b, ok, "source", src);
}

/* An annotated message in Anthropic's shape: OpenAI-style tool results,
 * assistant tool calls and image_url parts are converted; anything else is
 * kept as it is. */
static cJSON *anthropic_message(const cJSON *m)
{
    const cJSON *role = nr_json_get(m, "role"), *content = nr_json_get(m, "content");
    const cJSON *calls = nr_json_get(m, "tool_calls");
    bool tool = nr_codec_is_str(role, "tool");
    bool has_calls = cJSON_IsArray(calls) && calls->child != NULL;
    bool has_image = false;
    for (const cJSON *p = cJSON_IsArray(content) ? content->child : NULL; p != NULL; p = p->next)
        has_image = has_image || nr_codec_is_str(nr_json_get(p, "type"), "image_url");
    if (!tool && !has_calls && !has_image)
        return nr_json_dup(m);
    cJSON *out = cJSON_CreateObject(), *blocks = cJSON_CreateArray();
    bool ok = out != NULL && blocks != NULL &&
              nr_json_add(out, "role", cJSON_CreateString(tool ? "user" : role->valuestring));
    if (tool) {
        const cJSON *id = nr_json_get(m, "tool_call_id");
        cJSON *b = cJSON_CreateObject();
        ok = ok && b != NULL && nr_json_add(b, "type", cJSON_CreateString("tool_result")) &&
             nr_json_add(b, "tool_use_id", cJSON_CreateString(cJSON_IsString(id) ? id->valuestring : "")) &&
             nr_codec_copy(b, m, "content");
        ok = ok ? nr_codec_append(blocks, b) : (cJSON_Delete(b), false);
    } else if (cJSON_IsString(content) && content->valuestring[0] != '\0') {
        cJSON *b = cJSON_CreateObject();
        ok = ok && b != NULL && nr_json_add(b, "type", cJSON_CreateString("text")) &&
             nr_json_add(b, "text", cJSON_CreateString(content->valuestring));
        ok = ok ? nr_codec_append(blocks, b) : (cJSON_Delete(b), false);
    } else if (cJSON_IsArray(content)) {
        for (const cJSON *p = content->child; ok && p != NULL; p = p->next)
            ok = nr_codec_append(blocks, anthropic_part(p));
    }
    for (const cJSON *c = has_calls ? calls->child : NULL; ok && c != NULL; c = c->next) {
        const cJSON *fn = nr_json_get(c, "function"), *args = nr_json_get(fn, "arguments");
        const cJSON *name = nr_json_get(fn, "name"), *id = nr_json_get(c, "id");
        cJSON *b = cJSON_CreateObject();
        cJSON *input = cJSON_IsString(args) ? nr_codec_parse_arguments(args->valuestring)
                                            : cJSON_CreateObject();
        if (input != NULL && !cJSON_IsObject(input)) {
            cJSON_Delete(input);
            input = cJSON_CreateObject();
        }
        ok = b != NULL && nr_json_add(b, "type", cJSON_CreateString("tool_use")) &&
             nr_json_add(b, "id", cJSON_CreateString(cJSON_IsString(id) ? id->valuestring : "")) &&
             nr_json_add(b, "name", cJSON_CreateString(cJSON_IsString(name) ? name->valuestring : "")) &&
             nr_json_add(b, "input", input);
        input = NULL;
        ok = ok ? nr_codec_append(blocks, b) : (cJSON_Delete(b), false);
    }
    return nr_codec_nest(out, ok, "content", blocks);
}

/* The non-system messages of ann, each kept verbatim from the original
 * where it is unchanged. */
static cJSON *encode_messages(const cJSON *ann_msgs)
{
    cJSON *arr = cJSON_CreateArray();
    bool ok = arr != NULL;
    for (const cJSON *m = ann_msgs->child; ok && m != NULL; m = m->next) {
        if (nr_codec_is_str(nr_json_get(m, "role"), "system"))
            continue;
        ok = nr_codec_append(arr, anthropic_message(m));
    }
    if (!ok) {
        cJSON_Delete(arr);
        return NULL;
    }
    return arr;
}

static bool non_system_equal(const cJSON *a, const cJSON *b)
{
    const cJSON *x = cJSON_IsArray(a) ? a->child : NULL, *y = cJSON_IsArray(b) ? b->child : NULL;
    for (;;) {
        while (x != NULL && nr_codec_is_str(nr_json_get(x, "role"), "system"))
            x = x->next;
        while (y != NULL && nr_codec_is_str(nr_json_get(y, "role"), "system"))
            y = y->next;
        if (x == NULL || y == NULL)
            return x == y;
        if (!cJSON_Compare(x, y, true))
            return false;
        x = x->next;
        y = y->next;
    }
}

static cJSON *encode_tools(const cJSON *tools, const cJSON *original_tools)
{
    cJSON *arr = cJSON_CreateArray();
    bool ok = arr != NULL;
    for (const cJSON *t = tools->child; ok && t != NULL; t = t->next) {
        cJSON *item = NULL;
        for (const cJSON *raw = cJSON_IsArray(original_tools) ? original_tools->child : NULL;
             raw != NULL && item == NULL; raw = raw->next) {
            cJSON *n = norm_tool(raw);
            if (n != NULL && cJSON_Compare(n, t, true))
                item = nr_json_dup(raw);
            cJSON_Delete(n);
        }
        const cJSON *fn = nr_json_get(t, "function");
        if (item == NULL && !cJSON_IsObject(fn))
            item = nr_json_dup(t); /* already an Anthropic tool */
        if (item == NULL) {
            const cJSON *schema = nr_json_get(fn, "parameters");
            item = cJSON_CreateObject();
            bool made = item != NULL && nr_codec_copy(item, fn, "name") &&
                        nr_codec_copy(item, fn, "description") &&
                        nr_json_add(item, "input_schema",
                                    schema != NULL ? nr_json_dup(schema)
                                                   : cJSON_Parse("{\"type\":\"object\"}"));
            if (!made) {
                cJSON_Delete(item);
                item = NULL;
            }
        }
        ok = nr_codec_append(arr, item);
    }
    if (!ok) {
        cJSON_Delete(arr);
        return NULL;
    }
    return arr;
}

static cJSON *encode_tool_choice(const cJSON *tc, const cJSON *parallel, const cJSON *original_tc)
{
    cJSON *o = NULL;
    const char *type = NULL;
    if (cJSON_IsString(tc))
        type = strcmp(tc->valuestring, "required") == 0 ? "any" : tc->valuestring;
    if (type != NULL) {
        o = cJSON_CreateObject();
        if (o != NULL && !nr_json_add(o, "type", cJSON_CreateString(type)))
            cJSON_Delete(o), o = NULL;
    } else if (cJSON_IsObject(tc)) {
        const cJSON *name = nr_json_get(nr_json_get(tc, "function"), "name");
        o = cJSON_CreateObject();
        if (o != NULL && (!nr_json_add(o, "type", cJSON_CreateString("tool")) ||
                          !nr_json_add(o, "name", cJSON_CreateString(cJSON_IsString(name)
                                                                         ? name->valuestring : ""))))
            cJSON_Delete(o), o = NULL;
    } else {
        o = cJSON_IsObject(original_tc) ? nr_json_dup(original_tc) : cJSON_Parse("{\"type\":\"auto\"}");
    }
    if (o != NULL && cJSON_IsBool(parallel) &&
        !nr_codec_set(o, "disable_parallel_tool_use", cJSON_CreateBool(!cJSON_IsTrue(parallel)))) {
        cJSON_Delete(o);
        o = NULL;
    }
    return o;
}

static bool apply(const cJSON *ann, const cJSON *ref, const cJSON *original, cJSON *out,
                  nr_error *err)
{
    bool ok = true;
    const cJSON *msgs = nr_json_get(ann, "messages"), *ref_msgs = nr_json_get(ref, "messages");
    char *sa = system_text(msgs), *sr = system_text(ref_msgs);
    if (sa == NULL && sr != NULL)
        cJSON_DeleteItemFromObjectCaseSensitive(out, "system");
    else if (sa != NULL && (sr == NULL || strcmp(sa, sr) != 0))
        ok = nr_codec_set(out, "system", cJSON_CreateString(sa));
    free(sa);
    free(sr);
    if (ok && !non_system_equal(msgs, ref_msgs))
        ok = nr_codec_set(out, "messages", encode_messages(msgs));
    ok = ok && nr_codec_apply_params(ann, ref, original, out, "max_tokens", NULL, "stop_sequences");
    const cJSON *v = nr_codec_changed(ann, ref, "tools");
    if (ok && v != NULL)
        ok = nr_codec_set(out, "tools", encode_tools(v, nr_json_get(original, "tools")));
    const cJSON *tc = nr_codec_changed(ann, ref, "tool_choice");
    const cJSON *par = nr_codec_changed(ann, ref, "parallel_tool_calls");
    if (ok && (tc != NULL || par != NULL))
        ok = nr_codec_set(out, "tool_choice",
                          encode_tool_choice(tc != NULL ? tc : nr_json_get(ann, "tool_choice"),
                                             nr_json_get(ann, "parallel_tool_calls"),
                                             nr_json_get(original, "tool_choice")));
    if (!ok)
        nr_error_nomem(err);
    return ok;
}

/* ---- responses ----------------------------------------------------------------------- */

static const char *stop_reason(const char *r)
{
    if (strcmp(r, "end_turn") == 0 || strcmp(r, "stop_sequence") == 0)
        return "complete";
    if (strcmp(r, "max_tokens") == 0)
        return "length";
    if (strcmp(r, "tool_use") == 0)
        return "tool_use";
    if (strcmp(r, "refusal") == 0)
        return "content_filter";
    return NULL;
}

static const char *const RESPONSE_KNOWN[] = {
    "id",          "type",          "role",          "model",     "content", "stop_reason",
    "stop_sequence", "service_tier", "container", "usage", NULL};

static cJSON *decode_response(const cJSON *r, nr_error *err)
{
    const cJSON *content = nr_json_get(r, "content");
    if (content != NULL && !cJSON_IsNull(content) && !cJSON_IsArray(content)) {
        nr_error_set(err, NR_E_INVALID_JSON,
                     "AnthropicMessagesCodec response: 'content' must be an array of blocks");
        return NULL;
    }
    cJSON *ann = cJSON_CreateObject();
    bool ok = ann != NULL;
    const cJSON *id = nr_json_get(r, "id"), *model = nr_json_get(r, "model");
    if (ok && cJSON_IsString(id))
        ok = nr_json_add(ann, "id", nr_json_dup(id));
    if (ok && cJSON_IsString(model))
        ok = nr_json_add(ann, "model", nr_json_dup(model));
    char *text = nr_codec_text_of(content);
    if (ok && text != NULL)
        ok = nr_json_add(ann, "message", cJSON_CreateString(text));
    free(text);
    cJSON *calls = ok ? cJSON_CreateArray() : NULL;
    for (const cJSON *b = cJSON_IsArray(content) ? content->child : NULL; calls != NULL && ok && b != NULL;
         b = b->next) {
        const cJSON *bid = nr_json_get(b, "id"), *name = nr_json_get(b, "name");
        if (!nr_codec_is_str(nr_json_get(b, "type"), "tool_use") || !cJSON_IsString(bid) || !cJSON_IsString(name))
            continue;
        const cJSON *input = nr_json_get(b, "input");
        cJSON *tc = cJSON_CreateObject();
        ok = tc != NULL && nr_json_add(tc, "id", nr_json_dup(bid)) &&
             nr_json_add(tc, "name", nr_json_dup(name)) &&
             nr_json_add(tc, "arguments", input != NULL ? nr_json_dup(input) : cJSON_CreateObject());
        ok = ok ? nr_codec_append(calls, tc) : (cJSON_Delete(tc), false);
    }
    if (ok && calls != NULL && calls->child != NULL) {
        ok = nr_json_add(ann, "tool_calls", calls);
        calls = NULL;
    }
    cJSON_Delete(calls);
    const cJSON *sr = nr_json_get(r, "stop_reason");
    if (ok && cJSON_IsString(sr))
        ok = nr_json_add(ann, "finish_reason",
                         nr_codec_finish_reason(stop_reason(sr->valuestring), sr->valuestring));
    const cJSON *u = nr_json_get(r, "usage");
    if (ok && cJSON_IsObject(u)) {
        cJSON *usage = nr_codec_usage(u, nr_json_get(u, "input_tokens"),
                                      nr_json_get(u, "output_tokens"), NULL,
                                      nr_json_get(u, "cache_read_input_tokens"),
                                      nr_json_get(u, "cache_creation_input_tokens"));
        ok = usage == NULL || nr_json_add(ann, "usage", usage);
    }
    if (ok) {
        cJSON *api = cJSON_CreateObject();
        ok = api != NULL && nr_json_add(api, "api", cJSON_CreateString("anthropic_messages")) &&
             nr_codec_copy_as(api, "object_type", r, "type") && nr_codec_copy(api, r, "role") &&
             nr_codec_copy(api, r, "stop_reason") && nr_codec_copy(api, r, "stop_sequence") &&
             nr_codec_copy(api, r, "service_tier") && nr_codec_copy(api, r, "container") &&
             nr_codec_copy_as(api, "content_blocks", r, "content");
        ok = ok ? nr_json_add(ann, "api_specific", api) : (cJSON_Delete(api), false);
    }
    ok = ok && nr_codec_add_extra(ann, r, RESPONSE_KNOWN);
    if (!ok) {
        cJSON_Delete(ann);
        nr_error_nomem(err);
        return NULL;
    }
    return ann;
}
