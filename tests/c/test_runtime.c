/*
 * test_runtime.c -- the runtime core without Python: ids and time, scope
 * chains and visibility tiers, events, subscribers, registries.
 */
#include "nr_call.h"
#include "nr_emit.h"
#include "exact_json.h"
#include "nr_json.h"
#include "nr_registry.h"
#include "nr_runtime.h"
#include "nr_scope_ops.h"
#include "nr_stack.h"
#include "nr_test.h"

#include <stdlib.h>
#include <string.h>

/* ---- a capturing subscriber ---------------------------------------------- */

#define MAX_EVENTS 64
typedef struct capture {
    int n;
    cJSON *events[MAX_EVENTS];
} capture;

static void capture_cb(void *ud, nr_event *ev)
{
    capture *c = ud;
    const char *text = nr_event_json(ev);
    if (c->n < MAX_EVENTS && text != NULL)
        c->events[c->n++] = cJSON_Parse(text);
}

static void capture_reset(capture *c)
{
    for (int i = 0; i < c->n; i++)
        cJSON_Delete(c->events[i]);
    c->n = 0;
}

static const char *str_of(const cJSON *ev, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static nr_callback_fn sub_fn(nr_subscriber_fn f)
{
    nr_callback_fn fn;
    fn.subscriber = f;
    return fn;
}

static void register_capture(capture *c, const char *name)
{
    nr_callback_spec spec = {.kind = NR_MW_SUBSCRIBER, .name = name, .fn = sub_fn(capture_cb),
                             .user_data = c};
    CHECK_EQ_INT(nr_register(&spec, NULL, NULL), NEMO_RELAY_STATUS_OK);
}

static nr_value *json_value(const char *text)
{
    nr_value *v = NULL;
    nr_value_parse(text, strlen(text), "test", &v, NULL);
    return v;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_ids_and_time(void)
{
    nr_uuid u, back;
    char text[NR_UUID_STR_LEN];
    nr_uuid_v7(&u);
    nr_uuid_format(&u, text);
    CHECK_EQ_INT(strlen(text), 36);
    CHECK(text[14] == '7');                                     /* version */
    CHECK(strchr("89ab", text[19]) != NULL);                    /* variant */
    CHECK(nr_uuid_parse(text, &back) && nr_uuid_eq(&u, &back));
    CHECK(!nr_uuid_parse("not-a-uuid", &back));

    char ts[NR_TIMESTAMP_STR_LEN];
    nr_time_format(0, ts);
    CHECK_STR(ts, "1970-01-01T00:00:00.000000+00:00");
    nr_time_format(1700000000123456LL, ts);
    CHECK_STR(ts, "2023-11-14T22:13:20.123456+00:00");
    nr_time_format(-1, ts);
    CHECK_STR(ts, "1969-12-31T23:59:59.999999+00:00");
    nr_time_format(951782400000000LL, ts); /* leap day */
    CHECK_STR(ts, "2000-02-29T00:00:00.000000+00:00");
    CHECK(nr_time_in_range(NR_TIME_MAX_US) && !nr_time_in_range(NR_TIME_MAX_US + 1));
}

static void test_push_pop_events(void)
{
    capture c = {0};
    register_capture(&c, "cap");
    nr_error err = NR_ERROR_INIT;
    nr_scope *root = nr_visible_top(&err);

    nr_value *meta = json_value("{\"a\":1,\"b\":1}");
    nr_value *input = json_value("{\"q\":\"hi\"}");
    nr_push_args outer_args = {.name = "outer", .type = NEMO_RELAY_SCOPE_TYPE_AGENT,
                               .attributes = 0x3 | 0x10, .metadata = meta, .input = input};
    nr_scope *outer = NULL;
    CHECK_EQ_INT(nr_scope_push(&outer_args, &outer, &err), NEMO_RELAY_STATUS_OK);
    CHECK(outer->has_parent && nr_uuid_eq(&outer->parent_uuid, &root->uuid));
    CHECK_EQ_INT(outer->attributes, 0x3);

    nr_push_args inner_args = {.name = "inner", .type = NEMO_RELAY_SCOPE_TYPE_TOOL};
    nr_scope *inner = NULL;
    CHECK_EQ_INT(nr_scope_push(&inner_args, &inner, &err), NEMO_RELAY_STATUS_OK);
    CHECK(nr_uuid_eq(&inner->parent_uuid, &outer->uuid));

    /* misuse leaves the stack unchanged */
    CHECK_EQ_INT(nr_scope_pop(&outer->uuid, NULL, NULL, NULL, &err), NEMO_RELAY_STATUS_INVALID_ARG);
    CHECK_EQ_INT(err.kind, NR_E_NOT_ON_TOP);
    CHECK_STR(nr_error_message(&err), "scope handle is not at the top of the stack");
    nr_uuid unknown;
    nr_uuid_v7(&unknown);
    CHECK_EQ_INT(nr_scope_pop(&unknown, NULL, NULL, NULL, &err), NEMO_RELAY_STATUS_NOT_FOUND);
    CHECK_STR(nr_error_message(&err), "scope handle not found");
    CHECK_EQ_INT(nr_scope_pop(&root->uuid, NULL, NULL, NULL, &err), NEMO_RELAY_STATUS_INVALID_ARG);
    CHECK_STR(nr_error_message(&err), "root scope cannot be removed");
    int64_t bad_ts = NR_TIME_MAX_US + 5;
    CHECK_EQ_INT(nr_scope_pop(&inner->uuid, NULL, NULL, &bad_ts, &err), NEMO_RELAY_STATUS_INVALID_ARG);
    nr_scope *top = nr_visible_top(&err);
    CHECK(top == inner);
    nr_scope_release(top);

    CHECK_EQ_INT(nr_scope_mark("m", NULL, NULL, NULL, NULL, &err), NEMO_RELAY_STATUS_OK);
    CHECK_EQ_INT(nr_scope_pop(&inner->uuid, NULL, NULL, NULL, &err), NEMO_RELAY_STATUS_OK);
    nr_value *end_meta = json_value("{\"b\":2,\"c\":3}");
    nr_value *output = json_value("[1,2]");
    int64_t end_ts = outer->start_us; /* not later than start: used verbatim */
    CHECK_EQ_INT(nr_scope_pop(&outer->uuid, output, end_meta, &end_ts, &err), NEMO_RELAY_STATUS_OK);

    CHECK_EQ_INT(c.n, 5);
    if (c.n == 5) {
        char outer_id[NR_UUID_STR_LEN], inner_id[NR_UUID_STR_LEN], root_id[NR_UUID_STR_LEN];
        nr_uuid_format(&outer->uuid, outer_id);
        nr_uuid_format(&inner->uuid, inner_id);
        nr_uuid_format(&root->uuid, root_id);
        cJSON *start = c.events[0];
        CHECK_STR(str_of(start, "kind"), "scope");
        CHECK_STR(str_of(start, "scope_category"), "start");
        CHECK_STR(str_of(start, "atof_version"), "0.1");
        CHECK_STR(str_of(start, "uuid"), outer_id);
        CHECK_STR(str_of(start, "parent_uuid"), root_id);
        CHECK_STR(str_of(start, "category"), "agent");
        CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(start, "category_profile")));
        CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(start, "data_schema")));
        const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(start, "attributes");
        CHECK(cJSON_GetArraySize(attrs) == 2);
        CHECK_STR(cJSON_GetArrayItem(attrs, 0)->valuestring, "parallel");
        CHECK_STR(cJSON_GetArrayItem(attrs, 1)->valuestring, "relocatable");
        CHECK_STR(str_of(cJSON_GetObjectItemCaseSensitive(start, "data"), "q"), "hi");
        CHECK_EQ_INT(cJSON_GetArraySize(start), 13);

        cJSON *mark = c.events[2];
        CHECK_STR(str_of(mark, "kind"), "mark");
        CHECK_STR(str_of(mark, "parent_uuid"), inner_id);
        CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(mark, "category")));
        CHECK(cJSON_GetObjectItemCaseSensitive(mark, "scope_category") == NULL);
        CHECK_EQ_INT(cJSON_GetArraySize(mark), 11);

        cJSON *inner_end = c.events[3];
        CHECK_STR(str_of(inner_end, "uuid"), inner_id);
        CHECK_STR(str_of(inner_end, "parent_uuid"), outer_id);
        CHECK(strcmp(str_of(inner_end, "timestamp"), str_of(c.events[1], "timestamp")) > 0);

        cJSON *outer_end = c.events[4];
        CHECK_STR(str_of(outer_end, "scope_category"), "end");
        CHECK_STR(str_of(outer_end, "timestamp"), str_of(start, "timestamp"));
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(outer_end, "metadata");
        CHECK_EQ_INT(cJSON_GetObjectItemCaseSensitive(m, "a")->valueint, 1);
        CHECK_EQ_INT(cJSON_GetObjectItemCaseSensitive(m, "b")->valueint, 2);
        CHECK_EQ_INT(cJSON_GetObjectItemCaseSensitive(m, "c")->valueint, 3);
        CHECK(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(outer_end, "data")));
    }
    nr_value_release(meta);
    nr_value_release(input);
    nr_value_release(end_meta);
    nr_value_release(output);
    nr_scope_release(outer);
    nr_scope_release(inner);
    nr_scope_release(root);
    CHECK(nr_deregister(NR_MW_SUBSCRIBER, "cap", NULL));
    capture_reset(&c);
    nr_error_clear(&err);
}

/* A frame (tier 2) receives pushes; the thread's stack does not see them. */
static void test_frames_and_override(void)
{
    nr_error err = NR_ERROR_INIT;
    nr_scope *thread_top = nr_visible_top(&err);
    nr_stack *other = nr_stack_new(&err);
    nr_scope *other_root = nr_stack_top(other);

    nr_frame frame = {nr_scope_ref(other_root)};
    nr_frame *prev = nr_frame_install(&frame);
    CHECK(nr_visible_active());
    nr_push_args a = {.name = "in-frame", .type = NEMO_RELAY_SCOPE_TYPE_FUNCTION};
    nr_scope *pushed = NULL;
    CHECK_EQ_INT(nr_scope_push(&a, &pushed, &err), NEMO_RELAY_STATUS_OK);
    CHECK(frame.top == pushed);
    CHECK(nr_uuid_eq(&pushed->parent_uuid, &other_root->uuid));
    nr_frame_restore(prev);

    nr_scope *now = nr_visible_top(&err);
    CHECK(now == thread_top); /* the thread's stack is untouched */
    nr_scope_release(now);
    CHECK(nr_stack_top(other) == other_root); /* and so is the cell the frame started from */
    nr_scope_release(other_root);
    nr_scope_release(frame.top);
    nr_scope_release(pushed);

    nr_stack_release(other);
    nr_scope_release(other_root);
    nr_scope_release(thread_top);
    nr_error_clear(&err);
}

typedef struct override_ctx {
    nr_stack *stack;
    nr_scope *seen_top;
} override_ctx;

static NemoRelayStatus in_override(void *ud)
{
    override_ctx *o = ud;
    o->seen_top = nr_visible_top(NULL);
    nr_push_args a = {.name = "isolated", .type = NEMO_RELAY_SCOPE_TYPE_CUSTOM};
    nr_scope *s = NULL;
    NemoRelayStatus st = nr_scope_push(&a, &s, NULL);
    nr_scope_release(s);
    return st;
}

static void test_with_current(void)
{
    nr_error err = NR_ERROR_INIT;
    nr_scope *before = nr_visible_top(&err);
    override_ctx o = {nr_stack_new(&err), NULL};
    nr_scope *iso_root = nr_stack_top(o.stack);
    nr_frame frame = {nr_scope_ref(before)}; /* even a frame is outranked */
    nr_frame *prev = nr_frame_install(&frame);
    CHECK_EQ_INT(nr_stack_with_current(o.stack, in_override, &o), NEMO_RELAY_STATUS_OK);
    nr_frame_restore(prev);
    CHECK(o.seen_top == iso_root);
    nr_scope *iso_top = nr_stack_top(o.stack);
    CHECK(iso_top != iso_root && iso_top->below == iso_root);
    CHECK(frame.top == before);
    nr_scope *after = nr_visible_top(&err);
    CHECK(after == before);
    nr_scope_release(after);
    nr_scope_release(iso_top);
    nr_scope_release(iso_root);
    nr_scope_release(o.seen_top);
    nr_scope_release(frame.top);
    nr_stack_release(o.stack);
    nr_scope_release(before);
    nr_error_clear(&err);
}

static void test_thread_binding(void)
{
    nr_error err = NR_ERROR_INIT;
    nr_binding saved = nr_thread_capture();
    bool was_explicit = nr_thread_explicit();
    nr_stack *s = nr_stack_new(&err);
    nr_thread_bind(s);
    CHECK(nr_thread_explicit());
    nr_scope *top = nr_visible_top(&err);
    nr_scope *s_top = nr_stack_top(s);
    CHECK(top == s_top);
    nr_scope_release(top);
    nr_scope_release(s_top);
    nr_thread_restore(&saved);
    CHECK(nr_thread_explicit() == was_explicit);
    nr_stack_release(s);
    nr_error_clear(&err);
}

/* ---- subscribers ---------------------------------------------------------- */

typedef struct reentrant {
    int calls;
    int marks_seen;
} reentrant;

static void reentrant_cb(void *ud, nr_event *ev)
{
    reentrant *r = ud;
    r->calls++;
    if (strcmp(ev->name, "trigger") == 0) {
        /* emit from inside delivery, then deregister ourselves */
        nr_scope_mark("from-subscriber", NULL, NULL, NULL, NULL, NULL);
        CHECK(nr_deregister(NR_MW_SUBSCRIBER, "re", NULL));
    } else if (strcmp(ev->name, "from-subscriber") == 0) {
        r->marks_seen++;
    }
}

static int g_freed;
static void count_free(void *ud)
{
    (void)ud;
    g_freed++;
}

static void test_subscriber_reentrancy(void)
{
    reentrant r = {0};
    g_freed = 0;
    nr_callback_spec spec = {.kind = NR_MW_SUBSCRIBER, .name = "re", .fn = sub_fn(reentrant_cb),
                             .user_data = &r, .free_fn = count_free};
    CHECK_EQ_INT(nr_register(&spec, NULL, NULL), NEMO_RELAY_STATUS_OK);
    nr_error err = NR_ERROR_INIT;
    CHECK_EQ_INT(nr_register(&spec, NULL, &err), NEMO_RELAY_STATUS_ALREADY_EXISTS);
    CHECK_CONTAINS(nr_error_message(&err), "already exists");
    CHECK_EQ_INT(g_freed, 0); /* a failed registration took nothing */
    CHECK_EQ_INT(nr_scope_mark("trigger", NULL, NULL, NULL, NULL, NULL), NEMO_RELAY_STATUS_OK);
    /* the mark emitted inside delivery reached the subscriber (its own
     * snapshot was taken before it deregistered) */
    CHECK_EQ_INT(r.calls, 2);
    CHECK_EQ_INT(r.marks_seen, 1);
    CHECK_EQ_INT(g_freed, 1); /* freed once the last snapshot let go */
    CHECK_EQ_INT(nr_registry_count(NR_MW_SUBSCRIBER), 0);
    CHECK_EQ_INT(nr_scope_mark("later", NULL, NULL, NULL, NULL, NULL), NEMO_RELAY_STATUS_OK);
    CHECK_EQ_INT(r.calls, 2);
    nr_error_clear(&err);
}

static void test_scope_local_subscriber(void)
{
    nr_error err = NR_ERROR_INIT;
    capture c = {0};
    nr_push_args a = {.name = "owner", .type = NEMO_RELAY_SCOPE_TYPE_AGENT};
    nr_scope *owner = NULL;
    CHECK_EQ_INT(nr_scope_push(&a, &owner, &err), NEMO_RELAY_STATUS_OK);
    nr_callback_spec spec = {.kind = NR_MW_SUBSCRIBER, .name = "local", .fn = sub_fn(capture_cb),
                             .user_data = &c};
    CHECK_EQ_INT(nr_scope_local_register(&owner->uuid, &spec, &err), NEMO_RELAY_STATUS_OK);
    nr_scope_mark("inside", NULL, NULL, NULL, NULL, NULL);
    CHECK_EQ_INT(nr_scope_pop(&owner->uuid, NULL, NULL, NULL, &err), NEMO_RELAY_STATUS_OK);
    nr_scope_mark("outside", NULL, NULL, NULL, NULL, NULL);
    CHECK_EQ_INT(c.n, 2); /* the mark inside, and the scope's own end */
    if (c.n == 2) {
        CHECK_STR(str_of(c.events[0], "name"), "inside");
        CHECK_STR(str_of(c.events[1], "scope_category"), "end");
    }
    CHECK_EQ_INT(nr_registry_count(NR_MW_SUBSCRIBER), 0);
    /* registering on a scope that is no longer on the chain fails */
    CHECK_EQ_INT(nr_scope_local_register(&owner->uuid, &spec, &err), NEMO_RELAY_STATUS_NOT_FOUND);
    CHECK_CONTAINS(nr_error_message(&err), "not found");
    capture_reset(&c);
    nr_scope_release(owner);
    nr_error_clear(&err);
}

/* ---- a managed call, end to end, without any binding ------------------------ */

static NemoRelayStatus reject_bad(void *ud, const nr_call_info *ci, nr_value *in,
                                  char **out_reason, nr_error *err)
{
    (void)ud; (void)in; (void)err;
    *out_reason = strcmp(ci->name, "bad") == 0 ? nr_strdup("not allowed") : NULL;
    return NEMO_RELAY_STATUS_OK;
}

/* An execution intercept that runs the rest of the chain twice (a retry). */
static NemoRelayStatus run_twice(void *ud, const nr_call_info *ci, nr_value *in,
                                 const nr_next *next, nr_value **out, nr_error *err)
{
    (void)ud; (void)ci;
    nr_value *first = NULL;
    NemoRelayStatus st = next->fn(next->ctx, in, &first, err);
    nr_value_release(first);
    return st != NEMO_RELAY_STATUS_OK ? st : next->fn(next->ctx, in, out, err);
}

static int g_tool_runs;
static NemoRelayStatus double_x(void *ud, const nr_call_info *ci, nr_value *in, nr_value **out,
                                nr_error *err)
{
    (void)ud; (void)ci; (void)err;
    g_tool_runs++;
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(nr_value_json(in, NULL), "x");
    char text[32];
    snprintf(text, sizeof text, "%d", 2 * (int)cJSON_GetNumberValue(x));
    *out = json_value(text);
    return NEMO_RELAY_STATUS_OK;
}

static int g_env_released;
static void count_env(void *env)
{
    (void)env;
    g_env_released++;
}

static void test_managed_call(void)
{
    capture c = {0};
    register_capture(&c, "cap");
    nr_callback_spec guard = {.kind = NR_MW_TOOL_CONDITIONAL, .name = "guard"};
    guard.fn.conditional = reject_bad;
    nr_callback_spec retry = {.kind = NR_MW_TOOL_EXECUTION, .name = "retry"};
    retry.fn.execution = run_twice;
    CHECK_EQ_INT(nr_register(&guard, NULL, NULL), NEMO_RELAY_STATUS_OK);
    CHECK_EQ_INT(nr_register(&retry, NULL, NULL), NEMO_RELAY_STATUS_OK);
    nr_error err = NR_ERROR_INIT;
    nr_value *args = json_value("{\"x\":21}");
    nr_value *out = NULL;
    g_tool_runs = 0;
    g_env_released = 0;

    nr_call_spec ok = {.kind = NR_CALL_TOOL, .name = "t", .input = args, .env_release = count_env};
    CHECK_EQ_INT(nr_call_run(&ok, double_x, NULL, &out, &err), NEMO_RELAY_STATUS_OK);
    CHECK_STR(nr_value_text(out, &(size_t){0}, NULL), "42");
    CHECK_EQ_INT(g_tool_runs, 2); /* next called twice by the intercept */
    CHECK_EQ_INT(g_env_released, 1);
    /* guardrail scope start/end, then the tool's start and end */
    CHECK_EQ_INT(c.n, 4);
    if (c.n == 4) {
        CHECK_STR(str_of(c.events[0], "category"), "guardrail");
        CHECK_STR(str_of(c.events[1], "scope_category"), "end");
        CHECK_STR(str_of(c.events[2], "category"), "tool");
        CHECK_STR(str_of(c.events[2], "scope_category"), "start");
        CHECK_STR(str_of(c.events[3], "uuid"), str_of(c.events[2], "uuid"));
        CHECK_EQ_INT((int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c.events[3], "data")), 42);
    }
    capture_reset(&c);
    nr_value_release(out);
    out = NULL;

    /* a rejection: one mark, no start/end, the function never runs, and the
     * environment is still released exactly once */
    nr_call_spec bad = {.kind = NR_CALL_TOOL, .name = "bad", .input = args, .env_release = count_env};
    CHECK_EQ_INT(nr_call_run(&bad, double_x, NULL, &out, &err), NEMO_RELAY_STATUS_GUARDRAIL_REJECTED);
    CHECK_EQ_INT(err.kind, NR_E_REJECTED);
    CHECK_STR(err.reason, "not allowed");
    CHECK(out == NULL);
    CHECK_EQ_INT(g_tool_runs, 2);
    CHECK_EQ_INT(g_env_released, 2);
    CHECK_EQ_INT(c.n, 3); /* guardrail start/end and the rejection mark */
    if (c.n == 3) {
        CHECK_STR(str_of(c.events[2], "kind"), "mark");
        CHECK_STR(str_of(c.events[2], "name"), "bad");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(c.events[2], "data");
        CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "rejected")));
        CHECK_STR(str_of(d, "rejection_reason"), "not allowed");
    }
    CHECK(nr_deregister(NR_MW_TOOL_CONDITIONAL, "guard", NULL));
    CHECK(nr_deregister(NR_MW_TOOL_EXECUTION, "retry", NULL));
    CHECK(nr_deregister(NR_MW_SUBSCRIBER, "cap", NULL));
    capture_reset(&c);
    nr_value_release(args);
    nr_error_clear(&err);
}

/* ---- middleware ordering --------------------------------------------------- */

static NemoRelayStatus noop_transform(void *ud, const nr_call_info *ci, nr_value *in,
                                      nr_value **out, nr_error *err)
{
    (void)ud; (void)ci; (void)err;
    *out = nr_value_ref(in);
    return NEMO_RELAY_STATUS_OK;
}

static void reg_transform(const char *name, int32_t priority, nr_scope *scope)
{
    nr_callback_spec spec = {.kind = NR_MW_TOOL_SANITIZE_REQUEST, .name = name,
                             .priority = priority, .free_fn = count_free};
    spec.fn.transform = noop_transform;
    nr_error err = NR_ERROR_INIT;
    if (scope != NULL)
        CHECK_EQ_INT(nr_scope_local_register(&scope->uuid, &spec, &err), NEMO_RELAY_STATUS_OK);
    else
        CHECK_EQ_INT(nr_register(&spec, NULL, &err), NEMO_RELAY_STATUS_OK);
    nr_error_clear(&err);
}

static void noop_subscriber(void *ud, nr_event *ev)
{
    (void)ud;
    (void)ev;
}

static void count_flush(void *ud)
{
    (*(int *)ud)++;
}

static void test_subscriber_flush(void)
{
    int flushed_a = 0, flushed_b = 0;
    nr_callback_spec a = {.kind = NR_MW_SUBSCRIBER, .name = "buffered", .fn = sub_fn(noop_subscriber),
                          .user_data = &flushed_a, .flush = count_flush};
    nr_callback_spec b = {.kind = NR_MW_SUBSCRIBER, .name = "plain", .fn = sub_fn(noop_subscriber),
                          .user_data = &flushed_b};
    /* a flush on another kind is not kept: only subscribers buffer events */
    nr_callback_spec c = {.kind = NR_MW_TOOL_SANITIZE_REQUEST, .name = "not-a-subscriber",
                          .user_data = &flushed_b, .flush = count_flush};
    c.fn.transform = noop_transform;
    CHECK_EQ_INT(nr_register(&a, NULL, NULL), NEMO_RELAY_STATUS_OK);
    CHECK_EQ_INT(nr_register(&b, NULL, NULL), NEMO_RELAY_STATUS_OK);
    CHECK_EQ_INT(nr_register(&c, NULL, NULL), NEMO_RELAY_STATUS_OK);
    nr_emit_flush();
    CHECK_EQ_INT(flushed_a, 1);
    CHECK_EQ_INT(flushed_b, 0);
    CHECK(nr_deregister(NR_MW_SUBSCRIBER, "buffered", NULL));
    nr_emit_flush();
    CHECK_EQ_INT(flushed_a, 1); /* deregistered: never flushed again */
    CHECK(nr_deregister(NR_MW_SUBSCRIBER, "plain", NULL));
    CHECK(nr_deregister(NR_MW_TOOL_SANITIZE_REQUEST, "not-a-subscriber", NULL));
}

static void test_ordering(void)
{
    g_freed = 0;
    reg_transform("b", 5, NULL);
    reg_transform("a", 5, NULL);
    reg_transform("z", -1, NULL);
    nr_push_args a = {.name = "s", .type = NEMO_RELAY_SCOPE_TYPE_AGENT};
    nr_scope *s = NULL;
    CHECK_EQ_INT(nr_scope_push(&a, &s, NULL), NEMO_RELAY_STATUS_OK);
    reg_transform("local-5", 5, s);
    reg_transform("local-0", 0, s);

    nr_scope *top = nr_visible_top(NULL);
    nr_snapshot snap;
    nr_snapshot_take(&snap, top, NR_MW_BIT(NR_MW_TOOL_SANITIZE_REQUEST));
    const nr_mw_list *l = nr_snapshot_list(&snap, NR_MW_TOOL_SANITIZE_REQUEST);
    const char *want[] = {"z", "local-0", "a", "b", "local-5"};
    CHECK_EQ_INT(l->n, 5);
    for (size_t i = 0; i < l->n && i < 5; i++)
        CHECK_STR(l->items[i]->name, want[i]);

    /* deregistration does not disturb the snapshot; records die with it */
    CHECK(nr_deregister(NR_MW_TOOL_SANITIZE_REQUEST, "a", NULL));
    CHECK(!nr_deregister(NR_MW_TOOL_SANITIZE_REQUEST, "a", NULL));
    CHECK_STR(l->items[2]->name, "a");
    CHECK_EQ_INT(g_freed, 0);
    CHECK_EQ_INT(nr_scope_pop(&s->uuid, NULL, NULL, NULL, NULL), NEMO_RELAY_STATUS_OK);
    CHECK_EQ_INT(g_freed, 0);
    nr_snapshot_release(&snap);
    CHECK_EQ_INT(g_freed, 3); /* "a" and the two scope-local ones */
    CHECK_EQ_INT(nr_registry_count(NR_MW_TOOL_SANITIZE_REQUEST), 2);
    nr_registry_clear_all();
    CHECK_EQ_INT(g_freed, 5);
    CHECK_EQ_INT(nr_registry_count(NR_MW_TOOL_SANITIZE_REQUEST), 0);
    nr_scope_release(top);
    nr_scope_release(s);
}

static void test_json_helpers(void)
{
    nr_error err = NR_ERROR_INIT;
    CHECK(nr_json_parse("{\"a\":1} x", 9, "payload", &err) == NULL);
    CHECK_CONTAINS(nr_error_message(&err), "payload is not valid JSON");
    CHECK(nr_json_parse("{\"a\":", 5, "payload", &err) == NULL);
    CHECK_EQ_INT(err.status, NEMO_RELAY_STATUS_INVALID_JSON);
    cJSON *j = nr_json_parse("[1] \n", 5, "payload", &err);
    CHECK(cJSON_IsArray(j));
    cJSON_Delete(j);
    nr_error_clear(&err);
}

/* parse then print: the same text, without the NUL a C string would add
 * (nr_json_parse is length-bounded) */
static void check_reprint(const char *text)
{
    size_t len = strlen(text);
    char *copy = malloc(len);
    memcpy(copy, text, len);
    nr_error err = NR_ERROR_INIT;
    cJSON *j = nr_json_parse(copy, len, "payload", &err);
    free(copy);
    CHECK(j != NULL);
    char *out = nr_json_print(j);
    CHECK_STR(out, text);
    free(out);
    cJSON *dup = nr_json_dup(j); /* copies keep the texts */
    out = nr_json_print(dup);
    CHECK_STR(out, text);
    free(out);
    cJSON_Delete(dup);
    cJSON_Delete(j);
    nr_error_clear(&err);
}

static void check_number(double d, const char *want)
{
    cJSON *j = cJSON_CreateNumber(d);
    char *out = nr_json_print(j);
    CHECK_STR(out, want);
    CHECK(out != NULL && strtod(out, NULL) == d);
    free(out);
    cJSON_Delete(j);
}

static void test_json_numbers_round_trip(void)
{
    /* literals a double does not print back as written keep their text */
    check_reprint("[9007199254740993,-18446744073709551616,1.0,-0.0,0.30000000000000004,"
                  "1.0000000000000002,5e-324,1.7976931348623157e308,1E5,2.50,1e400,"
                  "123456789012345,-123456789012345,0,-0,42]");
    check_reprint("{\"1.5\":\"2.5e3 9007199254740993\",\"n\":[1.5,{\"x\":10000000000000001}],"
                  "\"s\":\"\\\"12\",\"t\":true,\"z\":null,\"m\":-1e-7}");
    check_reprint("12345678901234567890");
    /* numbers made in C print as the shortest text that reads back the same */
    check_number(0.1 + 0.2, "0.30000000000000004");
    check_number(1.0000000000000002, "1.0000000000000002");
    check_number(5e-324, "5e-324");
    check_number(1.7976931348623157e308, "1.7976931348623157e+308");
    check_number(9007199254740991.0, "9007199254740991");
    check_number(4294967296.0, "4294967296");
    check_number(-2.0, "-2");
    check_number(0.1, "0.1");
    check_number(1e300, "1e+300");
    check_number(1.0 / 3.0, "0.3333333333333333");
    /* a number inside a tree that also holds plain ints; a merge keeps texts */
    nr_error err = NR_ERROR_INIT;
    cJSON *base = nr_json_parse("{\"a\":1,\"b\":2.0}", 15, "base", &err);
    cJSON *over = nr_json_parse("{\"b\":9007199254740993,\"c\":3}", 28, "overlay", &err);
    cJSON *m = nr_json_merge_shallow(base, over);
    char *out = nr_json_print(m);
    CHECK_STR(out, "{\"a\":1,\"b\":9007199254740993,\"c\":3}");
    free(out);
    cJSON_Delete(m);
    cJSON_Delete(base);
    cJSON_Delete(over);
    /* a literal that is not JSON (cJSON takes it) is not kept as text */
    CHECK(ej_is_json_number("-0.5e+3", 7) && !ej_is_json_number("01", 2) &&
          !ej_is_json_number("1.", 2) && !ej_is_json_number("-.5", 3) && !ej_is_json_number("1e", 2));
    nr_error_clear(&err);
}

int main(void)
{
    nr_runtime_init();
    NR_RUN(test_ids_and_time);
    NR_RUN(test_push_pop_events);
    NR_RUN(test_frames_and_override);
    NR_RUN(test_with_current);
    NR_RUN(test_thread_binding);
    NR_RUN(test_subscriber_reentrancy);
    NR_RUN(test_scope_local_subscriber);
    NR_RUN(test_subscriber_flush);
    NR_RUN(test_ordering);
    NR_RUN(test_managed_call);
    NR_RUN(test_json_helpers);
    NR_RUN(test_json_numbers_round_trip);
    nr_binding none = {NULL, false};
    nr_thread_restore(&none); /* drop the thread's default stack for leak checking */
    return NR_TEST_RESULT();
}
