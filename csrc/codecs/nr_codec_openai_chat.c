/* nr_codec_openai_chat.c -- OpenAI Chat Completions requests and responses.
 * Chat messages, tools and tool_choice already have the annotated shape, so
 * they are carried verbatim (every field inside them survives). */
#include "nr_codec_impl.h"

#include <string.h>

#define LABEL "OpenAIChatCodec request"

static const char *const PASSTHROUGH[] = {"store", "user", "metadata", "service_tier",
                                          "parallel_tool_calls", "top_logprobs", "stream", NULL};
static const char *const MODELED[] = {"messages", "model", "temperature", "max_tokens",
                                      "max_completion_tokens", "top_p", "stop", "tools",
                                      "tool_choice", NULL};

static cJSON *decode(const cJSON *content, nr_error *err);
static bool apply(const cJSON *ann, const cJSON *ref, const cJSON *original, cJSON *out,
                  nr_error *err);
static cJSON *decode_response(const cJSON *response, nr_error *err);

const nr_codec_ops nr_codec_openai_chat = {"OpenAIChatCodec", LABEL, "openai", PASSTHROUGH,
                                           MODELED, NULL, decode, apply, decode_response};

static cJSON *decode(const cJSON *content, nr_error *err)
{
    const nr_codec_ops *ops = &nr_codec_openai_chat;
    const cJSON *messages = nr_codec_messages(ops, content, "messages", err);
    if (messages == NULL ||
        !nr_codec_check_type(ops, content, "model", cJSON_String, "a string", err) ||
        !nr_codec_check_type(ops, content, "tools", cJSON_Array, "an array", err) ||
        !nr_codec_check_type(ops, content, "tool_choice", cJSON_String | cJSON_Object,
                             "a string or an object", err) ||
        !nr_codec_check_type(ops, content, "temperature", cJSON_Number, "a number", err) ||
        !nr_codec_check_type(ops, content, "max_tokens", cJSON_Number, "a number", err))
        return NULL;
    cJSON *ann = cJSON_CreateObject();
    bool ok = ann != NULL && nr_json_add(ann, "messages", nr_json_dup(messages)) &&
              nr_codec_copy(ann, content, "model") &&
              nr_codec_decode_params(ann, content, "max_completion_tokens", "max_tokens", "stop") &&
              nr_codec_copy(ann, content, "tools") && nr_codec_copy(ann, content, "tool_choice");
    if (!ok) {
        cJSON_Delete(ann);
        nr_error_nomem(err);
        return NULL;
    }
    return ann;
}

static bool apply(const cJSON *ann, const cJSON *ref, const cJSON *original, cJSON *out,
                  nr_error *err)
{
    const cJSON *v;
    bool ok = true;
    if ((v = nr_codec_changed(ann, ref, "messages")) != NULL)
        ok = nr_codec_set(out, "messages", nr_json_dup(v));
    ok = ok && nr_codec_apply_params(ann, ref, original, out, "max_tokens",
                                     "max_completion_tokens", "stop");
    if (ok && (v = nr_codec_changed(ann, ref, "tools")) != NULL)
        ok = nr_codec_set(out, "tools", nr_json_dup(v));
    if (ok && (v = nr_codec_changed(ann, ref, "tool_choice")) != NULL)
        ok = nr_codec_set(out, "tool_choice", nr_json_dup(v));
    /* turning streaming on: ask for the usage chunk, as the SDKs do */
    if (ok && cJSON_IsTrue(nr_codec_changed(ann, ref, "stream")) &&
        nr_json_get(out, "stream_options") == NULL) {
        cJSON *so = cJSON_CreateObject();
        ok = so != NULL && nr_json_add(so, "include_usage", cJSON_CreateTrue());
        if (ok)
            ok = nr_json_add(out, "stream_options", so);
        else
            cJSON_Delete(so);
    }
    if (!ok)
        nr_error_nomem(err);
    return ok;
}

static const char *chat_finish(const char *r)
{
    if (strcmp(r, "stop") == 0)
        return "complete";
    if (strcmp(r, "length") == 0)
        return "length";
    if (strcmp(r, "tool_calls") == 0 || strcmp(r, "function_call") == 0)
        return "tool_use";
    if (strcmp(r, "content_filter") == 0)
        return "content_filter";
    return NULL;
}

static const char *const RESPONSE_KNOWN[] = {"id",    "model", "choices", "usage",
                                             "system_fingerprint", "service_tier", NULL};

static cJSON *decode_response(const cJSON *r, nr_error *err)
{
    const cJSON *choices = nr_json_get(r, "choices");
    if (choices != NULL && !cJSON_IsNull(choices) && !cJSON_IsArray(choices)) {
        nr_error_set(err, NR_E_INVALID_JSON, "OpenAIChatCodec response: 'choices' must be an array");
        return NULL;
    }
    const cJSON *id = nr_json_get(r, "id"), *model = nr_json_get(r, "model");
    const cJSON *choice = cJSON_IsArray(choices) ? choices->child : NULL;
    const cJSON *msg = nr_json_get(choice, "message");
    if (choice != NULL && msg != NULL && !cJSON_IsNull(msg) && !cJSON_IsObject(msg)) {
        nr_error_set(err, NR_E_INVALID_JSON,
                     "OpenAIChatCodec response: 'choices[0].message' must be an object");
        return NULL;
    }
    cJSON *ann = cJSON_CreateObject();
    bool ok = ann != NULL;
    if (ok && cJSON_IsString(id))
        ok = nr_json_add(ann, "id", nr_json_dup(id));
    if (ok && cJSON_IsString(model))
        ok = nr_json_add(ann, "model", nr_json_dup(model));
    const cJSON *content = nr_json_get(msg, "content");
    if (ok && (cJSON_IsString(content) || cJSON_IsArray(content)))
        ok = nr_json_add(ann, "message", nr_json_dup(content));
    const cJSON *calls = nr_json_get(msg, "tool_calls");
    if (ok && cJSON_IsArray(calls)) {
        cJSON *out = cJSON_CreateArray();
        ok = out != NULL;
        for (const cJSON *c = calls->child; ok && c != NULL; c = c->next) {
            const cJSON *fn = nr_json_get(c, "function");
            const cJSON *name = nr_json_get(fn, "name"), *args = nr_json_get(fn, "arguments");
            if (!cJSON_IsString(name))
                continue;
            const cJSON *cid = nr_json_get(c, "id");
            cJSON *tc = cJSON_CreateObject();
            ok = tc != NULL &&
                 nr_json_add(tc, "id", cJSON_CreateString(cJSON_IsString(cid) ? cid->valuestring : "")) &&
                 nr_json_add(tc, "name", cJSON_CreateString(name->valuestring)) &&
                 nr_json_add(tc, "arguments", cJSON_IsString(args)
                                                  ? nr_codec_parse_arguments(args->valuestring)
                                                  : cJSON_IsObject(args) ? nr_json_dup(args)
                                                                         : cJSON_CreateObject());
            if (tc != NULL && (!ok || !cJSON_AddItemToArray(out, tc))) {
                cJSON_Delete(tc);
                ok = false;
            }
        }
        if (out != NULL && ok && out->child != NULL)
            ok = nr_json_add(ann, "tool_calls", out);
        else
            cJSON_Delete(out);
    }
    const cJSON *fr = nr_json_get(choice, "finish_reason");
    if (ok && cJSON_IsString(fr))
        ok = nr_json_add(ann, "finish_reason",
                         nr_codec_finish_reason(chat_finish(fr->valuestring), fr->valuestring));
    const cJSON *u = nr_json_get(r, "usage");
    if (ok && cJSON_IsObject(u)) {
        cJSON *usage = nr_codec_usage(u, nr_json_get(u, "prompt_tokens"),
                                      nr_json_get(u, "completion_tokens"),
                                      nr_json_get(u, "total_tokens"),
                                      nr_json_get(nr_json_get(u, "prompt_tokens_details"),
                                                  "cached_tokens"),
                                      NULL);
        ok = usage == NULL || nr_json_add(ann, "usage", usage);
    }
    if (ok) {
        cJSON *api = cJSON_CreateObject();
        ok = api != NULL && nr_json_add(api, "api", cJSON_CreateString("openai_chat")) &&
             nr_codec_copy(api, choice, "logprobs") && nr_codec_copy(api, r, "system_fingerprint") &&
             nr_codec_copy(api, r, "service_tier");
        if (ok)
            ok = nr_json_add(ann, "api_specific", api);
        else
            cJSON_Delete(api);
    }
    ok = ok && nr_codec_add_extra(ann, r, RESPONSE_KNOWN);
    if (!ok) {
        cJSON_Delete(ann);
        nr_error_nomem(err);
        return NULL;
    }
    return ann;
}
