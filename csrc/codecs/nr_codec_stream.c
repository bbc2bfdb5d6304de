/* nr_codec_stream.c -- folds a provider's streaming chunks into the
 * response the same call would have returned without streaming, so the
 * response codec can annotate it: text deltas concatenated, tool-call
 * argument fragments joined, usage taken from the chunk that carries it.
 *   OpenAI Chat: chat.completion.chunk objects (choices[].delta).
 *   OpenAI Responses: the typed events (response.output_text.delta,
 *     response.output_item.done, response.completed, ...).
 *   Anthropic Messages: message_start, content_block_start/delta/stop,
 *     message_delta, message_stop. */
#include "nr_codec_impl.h"

#include <stdlib.h>
#include <string.h>

#define MAX_SLOTS 64 /* choices x tool calls, output items, content blocks */

typedef struct strbuf {
    char *s;
    size_t len, cap;
} strbuf;

static bool sb_add(strbuf *b, const char *t)
{
    size_t n = strlen(t);
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (p == NULL)
            return false;
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, t, n + 1);
    b->len += n;
    return true;
}

typedef struct slot {
    bool used;
    int choice;      /* chat: choice index; others: unused */
    int index;       /* chat: tool call index; responses: output index; anthropic: block index */
    strbuf text;     /* text, or tool arguments / partial JSON */
    cJSON *item;     /* the item / block / tool call skeleton, or NULL */
} slot;

struct nr_stream_agg {
    nr_codec_id id;
    bool seen;
    cJSON *head;     /* chat: id/object/created/model...; responses: the latest response;
                      * anthropic: the message from message_start */
    cJSON *usage;    /* the latest usage */
    cJSON *finish[8];/* chat: finish_reason per choice; anthropic: [0] the message_delta delta */
    strbuf content[8]; /* chat: content per choice */
    char *role[8];
    slot slots[MAX_SLOTS];
};

nr_stream_agg *nr_stream_agg_new(nr_codec_id id)
{
    nr_stream_agg *a = calloc(1, sizeof *a);
    if (a != NULL)
        a->id = id;
    return a;
}

void nr_stream_agg_free(nr_stream_agg *a)
{
    if (a == NULL)
        return;
    cJSON_Delete(a->head);
    cJSON_Delete(a->usage);
    for (int i = 0; i < 8; i++) {
        cJSON_Delete(a->finish[i]);
        free(a->content[i].s);
        free(a->role[i]);
    }
    for (int i = 0; i < MAX_SLOTS; i++) {
        free(a->slots[i].text.s);
        cJSON_Delete(a->slots[i].item);
    }
    free(a);
}

bool nr_stream_agg_seen(const nr_stream_agg *a) { return a != NULL && a->seen; }

static slot *find_slot(nr_stream_agg *a, int choice, int index)
{
    for (int i = 0; i < MAX_SLOTS; i++)
        if (a->slots[i].used && a->slots[i].choice == choice && a->slots[i].index == index)
            return &a->slots[i];
    for (int i = 0; i < MAX_SLOTS; i++)
        if (!a->slots[i].used) {
            a->slots[i].used = true;
            a->slots[i].choice = choice;
            a->slots[i].index = index;
            return &a->slots[i];
        }
    return NULL;
}

static int int_of(const cJSON *v, int dflt)
{
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 1e6 ? (int)v->valuedouble : dflt;
}

static void replace(cJSON **dst, const cJSON *src)
{
    cJSON *d = nr_json_dup(src);
    if (d != NULL) {
        cJSON_Delete(*dst);
        *dst = d;
    }
}

/* Sets obj[key] to a copy of src[key] when present, not null. */
static void keep(cJSON *obj, const cJSON *src, const char *key)
{
    const cJSON *v = nr_json_get(src, key);
    if (obj != NULL && v != NULL && !cJSON_IsNull(v))
        nr_codec_set(obj, key, nr_json_dup(v));
}

/* ---- OpenAI Chat ------------------------------------------------------------------- */

static void observe_chat(nr_stream_agg *a, const cJSON *chunk)
{
    const cJSON *choices = nr_json_get(chunk, "choices");
    const cJSON *usage = nr_json_get(chunk, "usage");
    if (!cJSON_IsArray(choices) && !cJSON_IsObject(usage))
        return;
    a->seen = true;
    if (a->head == NULL)
        a->head = cJSON_CreateObject();
    static const char *const HEAD[] = {"id", "created", "model", "system_fingerprint",
                                       "service_tier", NULL};
    for (int i = 0; HEAD[i] != NULL; i++)
        if (nr_json_get(a->head, HEAD[i]) == NULL)
            keep(a->head, chunk, HEAD[i]);
    if (cJSON_IsObject(usage))
        replace(&a->usage, usage);
    for (const cJSON *c = cJSON_IsArray(choices) ? choices->child : NULL; c != NULL; c = c->next) {
        int ci = int_of(nr_json_get(c, "index"), 0);
        if (ci >= 8)
            continue;
        const cJSON *delta = nr_json_get(c, "delta");
        const cJSON *role = nr_json_get(delta, "role"), *content = nr_json_get(delta, "content");
        if (cJSON_IsString(role) && a->role[ci] == NULL)
            a->role[ci] = strdup(role->valuestring);
        if (cJSON_IsString(content))
            sb_add(&a->content[ci], content->valuestring);
        const cJSON *fr = nr_json_get(c, "finish_reason");
        if (cJSON_IsString(fr))
            replace(&a->finish[ci], fr);
        const cJSON *calls = nr_json_get(delta, "tool_calls");
        for (const cJSON *tc = cJSON_IsArray(calls) ? calls->child : NULL; tc != NULL; tc = tc->next) {
            slot *s = find_slot(a, ci, int_of(nr_json_get(tc, "index"), 0));
            if (s == NULL)
                continue;
            if (s->item == NULL)
                s->item = cJSON_Parse("{\"id\":\"\",\"type\":\"function\",\"function\":{\"name\":\"\"}}");
            const cJSON *fn = nr_json_get(tc, "function");
            const cJSON *id = nr_json_get(tc, "id"), *name = nr_json_get(fn, "name");
            const cJSON *args = nr_json_get(fn, "arguments");
            if (cJSON_IsString(id) && id->valuestring[0] != '\0')
                keep(s->item, tc, "id");
            if (cJSON_IsString(name) && name->valuestring[0] != '\0')
                keep(cJSON_GetObjectItemCaseSensitive(s->item, "function"), fn, "name");
            if (cJSON_IsString(args))
                sb_add(&s->text, args->valuestring);
        }
    }
}

static cJSON *result_chat(const nr_stream_agg *a)
{
    cJSON *r = a->head != NULL ? nr_json_dup(a->head) : cJSON_CreateObject();
    if (r == NULL)
        return NULL;
    nr_codec_set(r, "object", cJSON_CreateString("chat.completion"));
    cJSON *choices = cJSON_CreateArray();
    for (int ci = 0; ci < 8 && choices != NULL; ci++) {
        bool any = a->role[ci] != NULL || a->content[ci].s != NULL || a->finish[ci] != NULL;
        cJSON *calls = cJSON_CreateArray();
        for (int i = 0; calls != NULL && i < MAX_SLOTS; i++) {
            const slot *s = &a->slots[i];
            if (!s->used || s->choice != ci || s->item == NULL)
                continue;
            cJSON *tc = nr_json_dup(s->item);
            nr_json_add(cJSON_GetObjectItemCaseSensitive(tc, "function"), "arguments",
                        cJSON_CreateString(s->text.s != NULL ? s->text.s : ""));
            cJSON_AddItemToArray(calls, tc);
            any = true;
        }
        if (!any) {
            cJSON_Delete(calls);
            continue;
        }
        cJSON *ch = cJSON_CreateObject(), *msg = cJSON_CreateObject();
        nr_json_add(ch, "index", cJSON_CreateNumber(ci));
        nr_json_add(msg, "role", cJSON_CreateString(a->role[ci] != NULL ? a->role[ci] : "assistant"));
        nr_json_add(msg, "content", a->content[ci].s != NULL ? cJSON_CreateString(a->content[ci].s)
                                                              : cJSON_CreateNull());
        if (calls != NULL && calls->child != NULL)
            nr_json_add(msg, "tool_calls", calls);
        else
            cJSON_Delete(calls);
        nr_json_add(ch, "message", msg);
        nr_json_add(ch, "finish_reason", a->finish[ci] != NULL ? nr_json_dup(a->finish[ci])
                                                               : cJSON_CreateNull());
        cJSON_AddItemToArray(choices, ch);
    }
    nr_json_add(r, "choices", choices);
    if (a->usage != NULL)
        nr_json_add(r, "usage", nr_json_dup(a->usage));
    return r;
}

/* ---- OpenAI Responses ------------------------------------------------------------------ */

static void observe_responses(nr_stream_agg *a, const cJSON *ev)
{
    const cJSON *type = nr_json_get(ev, "type");
    if (!cJSON_IsString(type) || strncmp(type->valuestring, "response.", 9) != 0)
        return;
    a->seen = true;
    const cJSON *resp = nr_json_get(ev, "response");
    if (cJSON_IsObject(resp)) {
        replace(&a->head, resp);
        const cJSON *u = nr_json_get(resp, "usage");
        if (cJSON_IsObject(u))
            replace(&a->usage, u);
        return;
    }
    int idx = int_of(nr_json_get(ev, "output_index"), 0);
    const cJSON *item = nr_json_get(ev, "item");
    if (cJSON_IsObject(item) && (nr_codec_is_str(type, "response.output_item.added") ||
                                 nr_codec_is_str(type, "response.output_item.done"))) {
        slot *s = find_slot(a, 0, idx);
        if (s != NULL) {
            replace(&s->item, item);
            if (nr_codec_is_str(type, "response.output_item.done")) {
                free(s->text.s);
                s->text = (strbuf){0}; /* the item is complete: no deltas needed */
            }
        }
        return;
    }
    const cJSON *delta = nr_json_get(ev, "delta");
    if (cJSON_IsString(delta) && (nr_codec_is_str(type, "response.output_text.delta") ||
                                  nr_codec_is_str(type, "response.function_call_arguments.delta"))) {
        slot *s = find_slot(a, 0, idx);
        if (s != NULL)
            sb_add(&s->text, delta->valuestring);
    }
}

static cJSON *result_responses(const nr_stream_agg *a)
{
    cJSON *r = a->head != NULL ? nr_json_dup(a->head) : cJSON_CreateObject();
    if (r == NULL)
        return NULL;
    const cJSON *out = nr_json_get(r, "output");
    if (cJSON_IsArray(out) && out->child != NULL)
        return r; /* response.completed carried everything */
    cJSON *items = cJSON_CreateArray();
    for (int idx = 0; items != NULL && idx < 4096; idx++) {
        const slot *s = NULL;
        bool more = false;
        for (int i = 0; i < MAX_SLOTS; i++) {
            if (!a->slots[i].used)
                continue;
            if (a->slots[i].index == idx)
                s = &a->slots[i];
            else if (a->slots[i].index > idx)
                more = true;
        }
        if (s == NULL) {
            if (!more)
                break;
            continue;
        }
        cJSON *it = s->item != NULL ? nr_json_dup(s->item) : cJSON_Parse("{\"type\":\"message\",\"role\":\"assistant\"}");
        if (s->text.s != NULL && it != NULL) {
            if (nr_codec_is_str(nr_json_get(it, "type"), "function_call")) {
                nr_codec_set(it, "arguments", cJSON_CreateString(s->text.s));
            } else {
                cJSON *parts = cJSON_CreateArray(), *p = cJSON_CreateObject();
                nr_json_add(p, "type", cJSON_CreateString("output_text"));
                nr_json_add(p, "text", cJSON_CreateString(s->text.s));
                cJSON_AddItemToArray(parts, p);
                nr_codec_set(it, "content", parts);
            }
        }
        cJSON_AddItemToArray(items, it);
    }
    nr_codec_set(r, "output", items);
    if (a->usage != NULL && nr_json_get(r, "usage") == NULL)
        nr_json_add(r, "usage", nr_json_dup(a->usage));
    return r;
}

/* ---- Anthropic Messages ------------------------------------------------------------------ */

static void merge_usage(nr_stream_agg *a, const cJSON *u)
{
    if (!cJSON_IsObject(u))
        return;
    if (a->usage == NULL) {
        a->usage = nr_json_dup(u);
        return;
    }
    for (const cJSON *it = u->child; it != NULL; it = it->next)
        if (!cJSON_IsNull(it))
            nr_codec_set(a->usage, it->string, nr_json_dup(it));
}

static void observe_anthropic(nr_stream_agg *a, const cJSON *ev)
{
    const cJSON *type = nr_json_get(ev, "type");
    if (!cJSON_IsString(type))
        return;
    const char *t = type->valuestring;
    if (strcmp(t, "message_start") == 0) {
        a->seen = true;
        const cJSON *m = nr_json_get(ev, "message");
        replace(&a->head, m);
        merge_usage(a, nr_json_get(m, "usage"));
    } else if (strcmp(t, "content_block_start") == 0) {
        a->seen = true;
        slot *s = find_slot(a, 0, int_of(nr_json_get(ev, "index"), 0));
        if (s != NULL)
            replace(&s->item, nr_json_get(ev, "content_block"));
    } else if (strcmp(t, "content_block_delta") == 0) {
        a->seen = true;
        slot *s = find_slot(a, 0, int_of(nr_json_get(ev, "index"), 0));
        const cJSON *d = nr_json_get(ev, "delta");
        const cJSON *piece = nr_json_get(d, "text");
        if (!cJSON_IsString(piece))
            piece = nr_json_get(d, "partial_json");
        if (!cJSON_IsString(piece))
            piece = nr_json_get(d, "thinking");
        if (s != NULL && cJSON_IsString(piece))
            sb_add(&s->text, piece->valuestring);
    } else if (strcmp(t, "message_delta") == 0) {
        a->seen = true;
        replace(&a->finish[0], nr_json_get(ev, "delta"));
        merge_usage(a, nr_json_get(ev, "usage"));
    }
}

static cJSON *result_anthropic(const nr_stream_agg *a)
{
    cJSON *r = a->head != NULL ? nr_json_dup(a->head) : cJSON_CreateObject();
    if (r == NULL)
        return NULL;
    cJSON *blocks = cJSON_CreateArray();
    for (int idx = 0; blocks != NULL && idx < MAX_SLOTS; idx++) {
        const slot *s = NULL;
        for (int i = 0; i < MAX_SLOTS; i++)
            if (a->slots[i].used && a->slots[i].index == idx)
                s = &a->slots[i];
        if (s == NULL)
            continue;
        cJSON *b = s->item != NULL ? nr_json_dup(s->item) : cJSON_Parse("{\"type\":\"text\"}");
        const cJSON *bt = nr_json_get(b, "type");
        if (nr_codec_is_str(bt, "tool_use") || nr_codec_is_str(bt, "server_tool_use")) {
            cJSON *input = s->text.s != NULL ? nr_json_parse(s->text.s, s->text.len, "tool input", NULL)
                                             : NULL;
            if (input != NULL)
                nr_codec_set(b, "input", input);
        } else if (nr_codec_is_str(bt, "thinking")) {
            nr_codec_set(b, "thinking", cJSON_CreateString(s->text.s != NULL ? s->text.s : ""));
        } else if (s->text.s != NULL || nr_codec_is_str(bt, "text")) {
            nr_codec_set(b, "text", cJSON_CreateString(s->text.s != NULL ? s->text.s : ""));
        }
        cJSON_AddItemToArray(blocks, b);
    }
    nr_codec_set(r, "content", blocks);
    for (const cJSON *it = cJSON_IsObject(a->finish[0]) ? a->finish[0]->child : NULL; it != NULL;
         it = it->next)
        nr_codec_set(r, it->string, nr_json_dup(it));
    if (a->usage != NULL)
        nr_codec_set(r, "usage", nr_json_dup(a->usage));
    return r;
}

void nr_stream_agg_observe(nr_stream_agg *a, const cJSON *chunk)
{
    if (a == NULL || !cJSON_IsObject(chunk))
        return;
    switch (a->id) {
    case NR_CODEC_OPENAI_CHAT: observe_chat(a, chunk); break;
    case NR_CODEC_OPENAI_RESPONSES: observe_responses(a, chunk); break;
    default: observe_anthropic(a, chunk); break;
    }
}

cJSON *nr_stream_agg_result(const nr_stream_agg *a)
{
    if (a == NULL)
        return NULL;
    switch (a->id) {
    case NR_CODEC_OPENAI_CHAT: return result_chat(a);
    case NR_CODEC_OPENAI_RESPONSES: return result_responses(a);
    default: return result_anthropic(a);
    }
}
