/* nr_codec_openai_responses.c -- OpenAI Responses requests and responses.
 * `instructions` becomes a leading system message; `input` (a string or a
 * list of items) becomes messages: role items keep their role and content
 * (text parts as "text", images as "image_url"), function_call items become
 * assistant tool calls and function_call_output items tool messages; other
 * items are carried as they are.  Unchanged items are written back
 * verbatim. */
#include "nr_codec_impl.h"

#include <stdlib.h>
#include <string.h>

#define LABEL "OpenAIResponsesCodec request"

static const char *const PASSTHROUGH[] = {
    "store",        "previous_response_id", "truncation",     "reasoning",     "include",
    "user",         "metadata",             "service_tier",   "parallel_tool_calls",
    "max_output_tokens", "max_tool_calls",  "top_logprobs",   "stream",        NULL};
static const char *const MODELED[] = {"input", "instructions", "model", "temperature", "top_p",
                                      "tools", "tool_choice",  NULL};

static cJSON *decode(const cJSON *content, nr_error *err);
static bool apply(const cJSON *ann, const cJSON *ref, const cJSON *original, cJSON *out,
                  nr_error *err);
static cJSON *decode_response(const cJSON *response, nr_error *err);

const nr_codec_ops nr_codec_openai_responses = {"OpenAIResponsesCodec", LABEL, "openai",
                                                PASSTHROUGH, MODELED, NULL,
                                                decode, apply, decode_response};

/* {"type": "function", "function": {"name": ..., "arguments": ...}, "id"} */
static cJSON *tool_call(const cJSON *id, const cJSON *name, const cJSON *args)
{
    cJSON *c = cJSON_CreateObject(), *f = cJSON_CreateObject();
    bool ok = c != NULL && f != NULL &&
              nr_json_add(c, "id", cJSON_CreateString(cJSON_IsString(id) ? id->valuestring : "")) &&
              nr_json_add(c, "type", cJSON_CreateString("function")) &&
              nr_json_add(f, "name", cJSON_CreateString(cJSON_IsString(name) ? name->valuestring : "")) &&
              nr_json_add(f, "arguments", cJSON_IsString(args) ? nr_json_dup(args)
                                                               : cJSON_CreateString("{}"));
    return nr_codec_nest(c, ok, "function", f);
}

static cJSON *norm_part(const cJSON *p)
{
    const cJSON *type = nr_json_get(p, "type");
    if (nr_codec_is_str(type, "input_text") || nr_codec_is_str(type, "output_text")) {
        cJSON *o = cJSON_CreateObject();
        if (o == NULL || !nr_json_add(o, "type", cJSON_CreateString("text")) ||
            !nr_codec_copy(o, p, "text")) {
            cJSON_Delete(o);
            return NULL;
        }
        return o;
    }
    const cJSON *url = nr_json_get(p, "image_url");
    if (nr_codec_is_str(type, "input_image") && cJSON_IsString(url)) {
        cJSON *o = cJSON_CreateObject(), *iu = cJSON_CreateObject();
        bool ok = o != NULL && iu != NULL && nr_json_add(o, "type", cJSON_CreateString("image_url")) &&
                  nr_json_add(iu, "url", nr_json_dup(url)) && nr_codec_copy(iu, p, "detail");
        return nr_codec_nest(o, ok, "image_url", iu);
    }
    return nr_json_dup(p);
}

static cJSON *norm_content(const cJSON *c)
{
    if (!cJSON_IsArray(c))
        return c != NULL ? nr_json_dup(c) : cJSON_CreateNull();
    cJSON *arr = cJSON_CreateArray();
    for (const cJSON *p = c->child; arr != NULL && p != NULL; p = p->next)
        if (!nr_codec_append(arr, norm_part(p))) {
            cJSON_Delete(arr);
            return NULL;
        }
    return arr;
}

/* One input item as a message, or NULL with err set. */
static cJSON *norm_item(const cJSON *item, int i, nr_error *err)
{
    if (!cJSON_IsObject(item)) {
        nr_codec_bad(err, LABEL, "'input[%d]' must be an object", i);
        return NULL;
    }
    const cJSON *role = nr_json_get(item, "role"), *type = nr_json_get(item, "type");
    cJSON *m = NULL;
    bool ok = true;
    if (cJSON_IsString(role)) {
        m = cJSON_CreateObject();
        ok = m != NULL && nr_json_add(m, "role", nr_json_dup(role)) &&
             nr_json_add(m, "content", norm_content(nr_json_get(item, "content")));
    } else if (nr_codec_is_str(type, "function_call")) {
        cJSON *calls = cJSON_CreateArray();
        m = cJSON_CreateObject();
        const cJSON *id = nr_json_get(item, "call_id");
        ok = m != NULL && calls != NULL && nr_json_add(m, "role", cJSON_CreateString("assistant")) &&
             nr_json_add(m, "content", cJSON_CreateNull()) &&
             nr_codec_append(calls, tool_call(cJSON_IsString(id) ? id : nr_json_get(item, "id"),
                                     nr_json_get(item, "name"), nr_json_get(item, "arguments")));
        if (ok) {
            ok = nr_json_add(m, "tool_calls", calls);
            calls = NULL;
        }
        cJSON_Delete(calls);
    } else if (nr_codec_is_str(type, "function_call_output")) {
        m = cJSON_CreateObject();
        ok = m != NULL && nr_json_add(m, "role", cJSON_CreateString("tool")) &&
             nr_codec_copy_as(m, "tool_call_id", item, "call_id") &&
             nr_json_add(m, "content", norm_content(nr_json_get(item, "output")));
    } else if (cJSON_IsString(type)) {
        return nr_json_dup(item);
    } else {
        nr_codec_bad(err, LABEL, "'input[%d]' must have a string 'role' or 'type'", i);
        return NULL;
    }
    if (!ok) {
        cJSON_Delete(m);
        nr_error_nomem(err);
        return NULL;
    }
    return m;
}

static cJSON *norm_tool(const cJSON *t)
{
    const cJSON *name = nr_json_get(t, "name");
    if (!nr_codec_is_str(nr_json_get(t, "type"), "function") || !cJSON_IsString(name))
        return nr_json_dup(t);
    cJSON *o = cJSON_CreateObject(), *f = cJSON_CreateObject();
    bool ok = o != NULL && f != NULL && nr_json_add(o, "type", cJSON_CreateString("function")) &&
              nr_codec_copy(f, t, "name") && nr_codec_copy(f, t, "description") &&
              nr_codec_copy(f, t, "parameters");
    return nr_codec_nest(o, ok, "function", f);
}

static cJSON *norm_tool_choice(const cJSON *tc)
{
    const cJSON *name = nr_json_get(tc, "name");
    if (!cJSON_IsObject(tc) || !nr_codec_is_str(nr_json_get(tc, "type"), "function") || !cJSON_IsString(name))
        return nr_json_dup(tc);
    cJSON *o = cJSON_CreateObject(), *f = cJSON_CreateObject();
    bool ok = o != NULL && f != NULL && nr_json_add(o, "type", cJSON_CreateString("function")) &&
              nr_json_add(f, "name", nr_json_dup(name));
    return nr_codec_nest(o, ok, "function", f);
}

static cJSON *decode(const cJSON *content, nr_error *err)
{
    const nr_codec_ops *ops = &nr_codec_openai_responses;
    const cJSON *input = nr_json_get(content, "input");
    if (!nr_codec_check_type(ops, content, "input", cJSON_String | cJSON_Array,
                             "a string or an array of items", err) ||
        !nr_codec_check_type(ops, content, "instructions", cJSON_String, "a string", err) ||
        !nr_codec_check_type(ops, content, "model", cJSON_String, "a string", err) ||
        !nr_codec_check_type(ops, content, "tools", cJSON_Array, "an array", err) ||
        !nr_codec_check_type(ops, content, "tool_choice", cJSON_String | cJSON_Object,
                             "a string or an object", err) ||
        !nr_codec_check_type(ops, content, "max_output_tokens", cJSON_Number, "a number", err))
        return NULL;
    if (input == NULL && nr_json_get(content, "instructions") == NULL &&
        nr_json_get(content, "previous_response_id") == NULL) {
        nr_codec_bad(err, LABEL, "'input' is missing");
        return NULL;
    }
    cJSON *ann = cJSON_CreateObject(), *msgs = cJSON_CreateArray();
    bool ok = ann != NULL && msgs != NULL;
    const cJSON *instr = nr_json_get(content, "instructions");
    if (ok && cJSON_IsString(instr)) {
        cJSON *s = cJSON_CreateObject();
        ok = s != NULL && nr_json_add(s, "role", cJSON_CreateString("system")) &&
             nr_json_add(s, "content", nr_json_dup(instr));
        ok = ok ? nr_codec_append(msgs, s) : (cJSON_Delete(s), false);
    }
    if (ok && cJSON_IsString(input)) {
        cJSON *u = cJSON_CreateObject();
        ok = u != NULL && nr_json_add(u, "role", cJSON_CreateString("user")) &&
             nr_json_add(u, "content", nr_json_dup(input));
        ok = ok ? nr_codec_append(msgs, u) : (cJSON_Delete(u), false);
    }
    int i = 0;
    for (const cJSON *it = cJSON_IsArray(input) ? input->child : NULL; ok && it != NULL;
         it = it->next, i++) {
        cJSON *m = norm_item(it, i, err);
        if (m == NULL) {
            cJSON_Delete(ann);
            cJSON_Delete(msgs);
            return NULL;
        }
        ok = nr_codec_append(msgs, m);
    }
    if (ok) {
        ok = nr_json_add(ann, "messages", msgs);
        msgs = NULL;
    }
    ok = ok && nr_codec_copy(ann, content, "model") &&
         nr_codec_decode_params(ann, content, "max_output_tokens", NULL, NULL);
    const cJSON *tools = nr_json_get(content, "tools");
    if (ok && cJSON_IsArray(tools)) {
        cJSON *arr = cJSON_CreateArray();
        ok = arr != NULL;
        for (const cJSON *t = tools->child; ok && t != NULL; t = t->next)
            ok = nr_codec_append(arr, norm_tool(t));
        ok = ok ? nr_json_add(ann, "tools", arr) : (cJSON_Delete(arr), false);
    }
    const cJSON *tc = nr_json_get(content, "tool_choice");
    if (ok && tc != NULL && !cJSON_IsNull(tc))
        ok = nr_json_add(ann, "tool_choice", norm_tool_choice(tc));
    cJSON_Delete(msgs);
    if (!ok) {
        cJSON_Delete(ann);
        nr_error_nomem(err);
        return NULL;
    }
    return ann;
}

/* ---- encode ------------------------------------------------------------------------ */

static cJSON *raw_part(const cJSON *p, bool assistant)
{
    const cJSON *type = nr_json_get(p, "type");
    if (nr_codec_is_str(type, "text")) {
        cJSON *o = cJSON_CreateObject();
        if (o == NULL ||
            !nr_json_add(o, "type", cJSON_CreateString(assistant ? "output_text" : "input_text")) ||
            !nr_codec_copy(o, p, "text")) {
            cJSON_Delete(o);
            return NULL;
        }
        return o;
    }
    const cJSON *iu = nr_json_get(p, "image_url");
    if (nr_codec_is_str(type, "image_url") && cJSON_IsString(nr_json_get(iu, "url"))) {
        cJSON *o = cJSON_CreateObject();
        if (o == NULL || !nr_json_add(o, "type", cJSON_CreateString("input_image")) ||
            !nr_codec_copy_as(o, "image_url", iu, "url") || !nr_codec_copy(o, iu, "detail")) {
            cJSON_Delete(o);
            return NULL;
        }
        return o;
    }
    return nr_json_dup(p);
}

/* Appends the items for one annotated message. */
static bool add_items(cJSON *items, const cJSON *m)
{
    const cJSON *role = nr_json_get(m, "role"), *content = nr_json_get(m, "content");
    if (!cJSON_IsString(role))
        return nr_codec_append(items, nr_json_dup(m));
    if (nr_codec_is_str(role, "tool")) {
        cJSON *o = cJSON_CreateObject();
        bool ok = o != NULL && nr_json_add(o, "type", cJSON_CreateString("function_call_output")) &&
                  nr_codec_copy_as(o, "call_id", m, "tool_call_id");
        if (ok) {
            char *text = cJSON_IsString(content) ? NULL : nr_codec_text_of(content);
            ok = nr_json_add(o, "output", text != NULL ? cJSON_CreateString(text)
                                          : cJSON_IsString(content) ? nr_json_dup(content)
                                                                    : cJSON_CreateString(""));
            free(text);
        }
        return ok ? nr_codec_append(items, o) : (cJSON_Delete(o), false);
    }
    bool assistant = nr_codec_is_str(role, "assistant");
    const cJSON *calls = nr_json_get(m, "tool_calls");
    bool has_content = cJSON_IsArray(content) || (cJSON_IsString(content) &&
                                                  (content->valuestring[0] != '\0' || calls == NULL));
    if (has_content) {
        cJSON *o = cJSON_CreateObject();
        bool ok = o != NULL && nr_json_add(o, "role", nr_json_dup(role));
        if (ok && cJSON_IsArray(content)) {
            cJSON *parts = cJSON_CreateArray();
            ok = parts != NULL;
            for (const cJSON *p = content->child; ok && p != NULL; p = p->next)
                ok = nr_codec_append(parts, raw_part(p, assistant));
            ok = ok ? nr_json_add(o, "content", parts) : (cJSON_Delete(parts), false);
        } else if (ok) {
            ok = nr_json_add(o, "content", nr_json_dup(content));
        }
        if (!(ok ? nr_codec_append(items, o) : (cJSON_Delete(o), false)))
            return false;
    }
    for (const cJSON *c = cJSON_IsArray(calls) ? calls->child : NULL; c != NULL; c = c->next) {
        const cJSON *fn = nr_json_get(c, "function");
        cJSON *o = cJSON_CreateObject();
        bool ok = o != NULL && nr_json_add(o, "type", cJSON_CreateString("function_call")) &&
                  nr_codec_copy_as(o, "call_id", c, "id") && nr_codec_copy(o, fn, "name") &&
                  nr_codec_copy(o, fn, "arguments");
        if (!(ok ? nr_codec_append(items, o) : (cJSON_Delete(o), false)))
            return false;
    }
    return true;
}

/* The input items for messages[from..], each unchanged one taken verbatim
 * from the original items. */
static cJSON *encode_input(const cJSON *ann_msgs, int from, const cJSON *ref_msgs, int ref_from,
                           const cJSON *orig_input)
{
    cJSON *items = cJSON_CreateArray();
    bool ok = items != NULL;
    const cJSON *m = cJSON_GetArrayItem(ann_msgs, from);
    const cJSON *r = cJSON_GetArrayItem(ref_msgs, ref_from);
    const cJSON *o = cJSON_IsArray(orig_input) ? orig_input->child : NULL;
    for (; ok && m != NULL; m = m->next) {
        if (r != NULL && o != NULL && cJSON_Compare(m, r, true))
            ok = nr_codec_append(items, nr_json_dup(o));
        else
            ok = add_items(items, m);
        r = r != NULL ? r->next : NULL;
        o = o != NULL ? o->next : NULL;
    }
    if (!ok) {
        cJSON_Delete(items);
        return NULL;
    }
    return items;
}

static cJSON *raw_tool(const cJSON *t, const cJSON *orig_tools)
{
    for (const cJSON *raw = cJSON_IsArray(orig_tools) ? orig_tools->child : NULL; raw != NULL;
         raw = raw->next) {
        cJSON *n = norm_tool(raw);
        bool same = n != NULL && cJSON_Compare(n, t, true);
        cJSON_Delete(n);
        if (same)
            return nr_json_dup(raw);
    }
    const cJSON *fn = nr_json_get(t, "function");
    if (!cJSON_IsObject(fn))
        return nr_json_dup(t);
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || !nr_json_add(o, "type", cJSON_CreateString("function")) ||
        !nr_codec_copy(o, fn, "name") || !nr_codec_copy(o, fn, "description") ||
        !nr_codec_copy(o, fn, "parameters")) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static bool apply(const cJSON *ann, const cJSON *ref, const cJSON *original, cJSON *out,
                  nr_error *err)
{
    bool ok = true;
    const cJSON *msgs = nr_json_get(ann, "messages"), *ref_msgs = nr_json_get(ref, "messages");
    if (!cJSON_Compare(msgs, ref_msgs, true)) {
        int from = 0, ref_from = 0;
        if (cJSON_IsString(nr_json_get(original, "instructions"))) {
            ref_from = 1;
            const cJSON *first = cJSON_GetArrayItem(msgs, 0);
            if (nr_codec_is_str(nr_json_get(first, "role"), "system")) {
                from = 1;
                char *text = nr_codec_text_of(nr_json_get(first, "content"));
                ok = nr_codec_set(out, "instructions", cJSON_CreateString(text != NULL ? text : ""));
                free(text);
            } else {
                cJSON_DeleteItemFromObjectCaseSensitive(out, "instructions");
            }
        }
        const cJSON *orig_input = nr_json_get(original, "input");
        /* the input proper changed (not just the instructions)? */
        bool input_changed = cJSON_GetArraySize(msgs) - from != cJSON_GetArraySize(ref_msgs) - ref_from;
        for (int k = 0; !input_changed && k < cJSON_GetArraySize(msgs) - from; k++)
            input_changed = !cJSON_Compare(cJSON_GetArrayItem(msgs, from + k),
                                           cJSON_GetArrayItem(ref_msgs, ref_from + k), true);
        if (ok && input_changed)
            ok = nr_codec_set(out, "input", encode_input(msgs, from, ref_msgs, ref_from, orig_input));
    }
    ok = ok && nr_codec_apply_params(ann, ref, original, out, "max_output_tokens", NULL, NULL);
    const cJSON *v = nr_codec_changed(ann, ref, "tools");
    if (ok && v != NULL) {
        cJSON *arr = cJSON_CreateArray();
        ok = arr != NULL;
        for (const cJSON *t = v->child; ok && t != NULL; t = t->next)
            ok = nr_codec_append(arr, raw_tool(t, nr_json_get(original, "tools")));
        ok = ok ? nr_codec_set(out, "tools", arr) : (cJSON_Delete(arr), false);
    }
    v = nr_codec_changed(ann, ref, "tool_choice");
    if (ok && v != NULL) {
        const cJSON *name = nr_json_get(nr_json_get(v, "function"), "name");
        cJSON *tc;
        if (cJSON_IsObject(v) && cJSON_IsString(name)) {
            tc = cJSON_CreateObject();
            if (tc != NULL && (!nr_json_add(tc, "type", cJSON_CreateString("function")) ||
                               !nr_json_add(tc, "name", nr_json_dup(name))))
                cJSON_Delete(tc), tc = NULL;
        } else {
            tc = nr_json_dup(v);
        }
        ok = nr_codec_set(out, "tool_choice", tc);
    }
    if (!ok)
        nr_error_nomem(err);
    return ok;
}

/* ---- responses ------------------------------------------------------------------------ */

static cJSON *finish(const cJSON *status, const cJSON *details)
{
    if (!cJSON_IsString(status))
        return NULL;
    const char *s = status->valuestring;
    if (strcmp(s, "completed") == 0)
        return nr_codec_finish_reason("complete", s);
    if (strcmp(s, "incomplete") == 0) {
        const cJSON *reason = nr_json_get(details, "reason");
        if (!cJSON_IsString(reason))
            return nr_codec_finish_reason(NULL, "incomplete");
        if (strcmp(reason->valuestring, "max_output_tokens") == 0)
            return nr_codec_finish_reason("length", NULL);
        if (strcmp(reason->valuestring, "content_filter") == 0)
            return nr_codec_finish_reason("content_filter", NULL);
        return nr_codec_finish_reason(NULL, reason->valuestring);
    }
    return nr_codec_finish_reason(NULL, s);
}

static const char *const RESPONSE_KNOWN[] = {
    "id",    "model",        "output",      "usage",     "status",   "incomplete_details",
    "previous_response_id", "store", "service_tier", "truncation", "reasoning", NULL};

static cJSON *decode_response(const cJSON *r, nr_error *err)
{
    const cJSON *output = nr_json_get(r, "output");
    if (output != NULL && !cJSON_IsNull(output) && !cJSON_IsArray(output)) {
        nr_error_set(err, NR_E_INVALID_JSON,
                     "OpenAIResponsesCodec response: 'output' must be an array of items");
        return NULL;
    }
    cJSON *ann = cJSON_CreateObject(), *calls = cJSON_CreateArray(), *texts = cJSON_CreateArray();
    bool ok = ann != NULL && calls != NULL && texts != NULL;
    const cJSON *id = nr_json_get(r, "id"), *model = nr_json_get(r, "model");
    if (ok && cJSON_IsString(id))
        ok = nr_json_add(ann, "id", nr_json_dup(id));
    if (ok && cJSON_IsString(model))
        ok = nr_json_add(ann, "model", nr_json_dup(model));
    for (const cJSON *it = cJSON_IsArray(output) ? output->child : NULL; ok && it != NULL; it = it->next) {
        const cJSON *type = nr_json_get(it, "type");
        if (nr_codec_is_str(type, "message")) {
            const cJSON *parts = nr_json_get(it, "content");
            for (const cJSON *p = cJSON_IsArray(parts) ? parts->child : NULL; ok && p != NULL; p = p->next)
                if (nr_codec_is_str(nr_json_get(p, "type"), "output_text") &&
                    cJSON_IsString(nr_json_get(p, "text")))
                    ok = nr_codec_append(texts, nr_json_dup(p));
        } else if (nr_codec_is_str(type, "function_call") && cJSON_IsString(nr_json_get(it, "name"))) {
            const cJSON *cid = nr_json_get(it, "call_id"), *args = nr_json_get(it, "arguments");
            cJSON *tc = cJSON_CreateObject();
            ok = tc != NULL &&
                 nr_json_add(tc, "id", nr_json_dup(cJSON_IsString(cid) ? cid : nr_json_get(it, "id"))) &&
                 nr_codec_copy(tc, it, "name") &&
                 nr_json_add(tc, "arguments", cJSON_IsString(args)
                                                  ? nr_codec_parse_arguments(args->valuestring)
                                                  : cJSON_CreateObject());
            ok = ok ? nr_codec_append(calls, tc) : (cJSON_Delete(tc), false);
        }
    }
    char *text = ok ? nr_codec_text_of(texts) : NULL;
    if (ok && text != NULL)
        ok = nr_json_add(ann, "message", cJSON_CreateString(text));
    free(text);
    if (ok && calls->child != NULL) {
        ok = nr_json_add(ann, "tool_calls", calls);
        calls = NULL;
    }
    cJSON *fr = ok ? finish(nr_json_get(r, "status"), nr_json_get(r, "incomplete_details")) : NULL;
    if (fr != NULL)
        ok = nr_json_add(ann, "finish_reason", fr);
    const cJSON *u = nr_json_get(r, "usage");
    if (ok && cJSON_IsObject(u)) {
        cJSON *usage = nr_codec_usage(u, nr_json_get(u, "input_tokens"),
                                      nr_json_get(u, "output_tokens"), nr_json_get(u, "total_tokens"),
                                      nr_json_get(nr_json_get(u, "input_tokens_details"),
                                                  "cached_tokens"),
                                      NULL);
        ok = usage == NULL || nr_json_add(ann, "usage", usage);
    }
    if (ok) {
        cJSON *api = cJSON_CreateObject();
        ok = api != NULL && nr_json_add(api, "api", cJSON_CreateString("openai_responses")) &&
             nr_codec_copy_as(api, "output_items", r, "output") && nr_codec_copy(api, r, "status") &&
             nr_codec_copy(api, r, "incomplete_details") &&
             nr_codec_copy(api, r, "previous_response_id") && nr_codec_copy(api, r, "store") &&
             nr_codec_copy(api, r, "service_tier") && nr_codec_copy(api, r, "truncation") &&
             nr_codec_copy(api, r, "reasoning") &&
             nr_codec_copy(api, u, "input_tokens_details") &&
             nr_codec_copy(api, u, "output_tokens_details");
        ok = ok ? nr_json_add(ann, "api_specific", api) : (cJSON_Delete(api), false);
    }
    ok = ok && nr_codec_add_extra(ann, r, RESPONSE_KNOWN);
    cJSON_Delete(calls);
    cJSON_Delete(texts);
    if (!ok) {
        cJSON_Delete(ann);
        nr_error_nomem(err);
        return NULL;
    }
    return ann;
}
