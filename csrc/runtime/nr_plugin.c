/* nr_plugin.c -- plugin kinds, validation, and the transactional configuration. */
#include "nr_plugin.h"

#include "nr_json.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- kinds ------------------------------------------------------------------ */

typedef struct plugin_kind {
    nr_refcount refs;
    char *kind;
    bool allows_multiple;
    nr_plugin_ops ops;
    void *ud;
} plugin_kind;

static plugin_kind *kind_ref(plugin_kind *k)
{
    if (k != NULL)
        nr_ref_inc(&k->refs);
    return k;
}

static void kind_release(plugin_kind *k)
{
    if (k == NULL || !nr_ref_dec(&k->refs))
        return;
    if (k->ops.release != NULL)
        k->ops.release(k->ud);
    free(k->kind);
    free(k);
}

/* ---- registration contexts -------------------------------------------------- */

typedef struct inverse {
    nr_mw_kind kind;
    char *name; /* qualified */
} inverse;

struct nr_plugin_ctx {
    char *ns;
    inverse *items;
    size_t n, cap;
    bool open; /* registrations allowed (during register only) */
    void (*undo)(void *ud); /* nr_plugin_ctx_on_rollback, or NULL */
    void *undo_ud;
};

static nr_plugin_ctx *ctx_new(const char *kind, int ordinal)
{
    nr_plugin_ctx *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    size_t len = strlen(kind) + 64;
    c->ns = malloc(len);
    if (c->ns == NULL) {
        free(c);
        return NULL;
    }
    if (ordinal > 0)
        snprintf(c->ns, len, "__nemo_relay_plugin__%s__%d__", kind, ordinal);
    else
        snprintf(c->ns, len, "__nemo_relay_plugin__%s__", kind);
    return c;
}

/* Rolls the context's registrations back, newest first, and frees it. */
static void ctx_rollback_free(nr_plugin_ctx *c)
{
    if (c == NULL)
        return;
    for (size_t i = c->n; i-- > 0;) {
        nr_deregister(c->items[i].kind, c->items[i].name, NULL);
        free(c->items[i].name);
    }
    if (c->undo != NULL)
        c->undo(c->undo_ud);
    free(c->items);
    free(c->ns);
    free(c);
}

NemoRelayStatus nr_plugin_ctx_on_rollback(nr_plugin_ctx *ctx, void (*fn)(void *ud), void *ud,
                                          nr_error *err)
{
    if (ctx == NULL || !ctx->open)
        return nr_error_set(err, NR_E_INVALID_ARG,
                            "plugin context is no longer valid (register has returned)");
    if (ctx->undo != NULL)
        return nr_error_set(err, NR_E_ALREADY_EXISTS, "the context already has a rollback action");
    ctx->undo = fn;
    ctx->undo_ud = ud;
    return NEMO_RELAY_STATUS_OK;
}

const char *nr_plugin_ctx_namespace(const nr_plugin_ctx *ctx)
{
    return ctx->ns;
}

NemoRelayStatus nr_plugin_ctx_register(nr_plugin_ctx *ctx, const nr_callback_spec *spec,
                                       nr_error *err)
{
    if (ctx == NULL || !ctx->open)
        return nr_error_set(err, NR_E_INVALID_ARG,
                            "plugin context is no longer valid (register has returned)");
    const char *local = spec->name != NULL ? spec->name : "";
    size_t len = strlen(ctx->ns) + strlen(local) + 1;
    char *qualified = malloc(len);
    if (qualified == NULL)
        return nr_error_nomem(err);
    snprintf(qualified, len, "%s%s", ctx->ns, local);
    if (ctx->n == ctx->cap) {
        size_t cap = ctx->cap ? ctx->cap * 2 : 8;
        inverse *items = realloc(ctx->items, cap * sizeof *items);
        if (items == NULL) {
            free(qualified);
            return nr_error_nomem(err);
        }
        ctx->items = items;
        ctx->cap = cap;
    }
    nr_callback_spec q = *spec;
    q.name = qualified;
    NemoRelayStatus st = nr_register(&q, NULL, err);
    if (st != NEMO_RELAY_STATUS_OK) {
        free(qualified);
        return st;
    }
    ctx->items[ctx->n].kind = spec->kind;
    ctx->items[ctx->n].name = qualified;
    ctx->n++;
    return NEMO_RELAY_STATUS_OK;
}

/* ---- global state -------------------------------------------------------------- */

typedef struct active_config {
    cJSON *config;        /* the document, kept to restore it after a failed change */
    cJSON *report;
    nr_plugin_ctx **ctxs; /* one per enabled component, in order */
    size_t n;
    plugin_kind **kinds;  /* strong: keeps each plugin (and its library) alive */
} active_config;

/* Guards every field below.  Never held while calling a plugin. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_idle = PTHREAD_COND_INITIALIZER;
static plugin_kind **g_kinds;         /* registered kinds (strong) */
static size_t g_nkinds, g_capkinds;
static active_config *g_active;       /* NULL when no configuration is active */
static bool g_busy;                   /* a configuration change is running */
static pthread_t g_busy_thread;       /* ...on this thread */
static nr_plugin_lease g_lease;       /* NR_PLUGIN_NO_LEASE or the host's token */
static nr_plugin_lease g_next_lease = 1;

static ssize_t find_kind(const char *kind)
{
    for (size_t i = 0; i < g_nkinds; i++)
        if (strcmp(g_kinds[i]->kind, kind) == 0)
            return (ssize_t)i;
    return -1;
}

static plugin_kind *lookup_kind(const char *kind)
{
    nr_lock(&g_lock);
    ssize_t i = find_kind(kind);
    plugin_kind *k = i >= 0 ? kind_ref(g_kinds[i]) : NULL;
    nr_unlock(&g_lock);
    return k;
}

NemoRelayStatus nr_plugin_register_kind(const char *kind, bool allows_multiple_components,
                                        const nr_plugin_ops *ops, void *ud, nr_error *err)
{
    if (kind == NULL || ops == NULL || ops->register_ == NULL)
        return nr_error_set(err, NR_E_INVALID_ARG, "a plugin kind needs a name and a register step");
    plugin_kind *k = calloc(1, sizeof *k);
    if (k == NULL || (k->kind = nr_strdup(kind)) == NULL) {
        free(k);
        return nr_error_nomem(err);
    }
    nr_ref_init(&k->refs);
    k->allows_multiple = allows_multiple_components;
    k->ops = *ops;
    k->ud = ud;
    NemoRelayStatus st = NEMO_RELAY_STATUS_OK;
    nr_lock(&g_lock);
    if (find_kind(kind) >= 0) {
        st = nr_error_set(err, NR_E_ALREADY_EXISTS, "plugin '%s' is already registered", kind);
    } else if (g_nkinds == g_capkinds) {
        size_t cap = g_capkinds ? g_capkinds * 2 : 8;
        plugin_kind **arr = realloc(g_kinds, cap * sizeof *arr);
        if (arr == NULL)
            st = nr_error_nomem(err);
        else {
            g_kinds = arr;
            g_capkinds = cap;
        }
    }
    if (st == NEMO_RELAY_STATUS_OK)
        g_kinds[g_nkinds++] = k;
    nr_unlock(&g_lock);
    if (st != NEMO_RELAY_STATUS_OK) {
        free(k->kind); /* nothing was taken: no release */
        free(k);
    }
    return st;
}

bool nr_plugin_deregister_kind(const char *kind)
{
    return nr_plugin_deregister_kind_of(kind, NULL);
}

bool nr_plugin_deregister_kind_of(const char *kind, const void *ud)
{
    plugin_kind *gone = NULL;
    nr_lock(&g_lock);
    ssize_t i = find_kind(kind);
    if (i >= 0 && (ud == NULL || g_kinds[i]->ud == ud)) {
        gone = g_kinds[i];
        memmove(&g_kinds[i], &g_kinds[i + 1], (g_nkinds - (size_t)i - 1) * sizeof *g_kinds);
        g_nkinds--;
    }
    nr_unlock(&g_lock);
    kind_release(gone); /* may call the plugin's release: outside the lock */
    return gone != NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

cJSON *nr_plugin_list_kinds(void)
{
    nr_lock(&g_lock);
    const char **names = malloc((g_nkinds + 1) * sizeof *names);
    size_t n = g_nkinds;
    for (size_t i = 0; names != NULL && i < n; i++)
        names[i] = g_kinds[i]->kind;
    cJSON *arr = NULL;
    if (names != NULL) {
        qsort(names, n, sizeof *names, cmp_str);
        arr = cJSON_CreateStringArray(names, (int)n);
    }
    nr_unlock(&g_lock);
    free(names);
    return arr;
}

/* ---- the configuration document ----------------------------------------------- */

typedef enum policy { POLICY_IGNORE, POLICY_WARN, POLICY_ERROR } policy;

typedef struct component {
    const char *kind;
    bool enabled;
    const cJSON *config; /* borrowed from the document, or `empty` */
} component;

typedef struct parsed_config {
    long version;
    component *items;
    size_t n;
    policy unknown_component, unknown_field, unsupported_value;
    cJSON *empty; /* {} for components without config */
} parsed_config;

static void parsed_clear(parsed_config *p)
{
    free(p->items);
    cJSON_Delete(p->empty);
    memset(p, 0, sizeof *p);
}

static NemoRelayStatus parse_policy(const cJSON *policy_obj, const char *key, policy dflt,
                                    policy *out, nr_error *err)
{
    *out = dflt;
    const cJSON *v = nr_json_get(policy_obj, key);
    if (v == NULL || cJSON_IsNull(v))
        return NEMO_RELAY_STATUS_OK;
    if (!cJSON_IsString(v))
        return nr_error_set(err, NR_E_INVALID_ARG, "policy.%s must be a string", key);
    if (strcmp(v->valuestring, "ignore") == 0)
        *out = POLICY_IGNORE;
    else if (strcmp(v->valuestring, "warn") == 0)
        *out = POLICY_WARN;
    else if (strcmp(v->valuestring, "error") == 0)
        *out = POLICY_ERROR;
    else
        return nr_error_set(err, NR_E_INVALID_ARG,
                            "policy.%s: unknown variant '%s', expected one of 'ignore', 'warn', "
                            "'error'",
                            key, v->valuestring);
    return NEMO_RELAY_STATUS_OK;
}

/* Checks the document's shape (not its meaning). */
static NemoRelayStatus parse_config(const cJSON *doc, parsed_config *p, nr_error *err)
{
    memset(p, 0, sizeof *p);
    p->version = 1;
    if (!cJSON_IsObject(doc))
        return nr_error_set(err, NR_E_INVALID_ARG, "plugin config must be an object");
    p->empty = cJSON_CreateObject();
    if (p->empty == NULL)
        return nr_error_nomem(err);
    const cJSON *version = nr_json_get(doc, "version");
    if (version != NULL && !cJSON_IsNull(version)) {
        if (!cJSON_IsNumber(version) || version->valuedouble != (double)(long)version->valuedouble)
            return nr_error_set(err, NR_E_INVALID_ARG, "version must be an integer");
        p->version = (long)version->valuedouble;
    }
    const cJSON *policy_obj = nr_json_get(doc, "policy");
    if (policy_obj != NULL && !cJSON_IsNull(policy_obj) && !cJSON_IsObject(policy_obj))
        return nr_error_set(err, NR_E_INVALID_ARG, "policy must be an object");
    NemoRelayStatus st;
    if ((st = parse_policy(policy_obj, "unknown_component", POLICY_WARN, &p->unknown_component,
                           err)) != NEMO_RELAY_STATUS_OK ||
        (st = parse_policy(policy_obj, "unknown_field", POLICY_WARN, &p->unknown_field, err)) !=
            NEMO_RELAY_STATUS_OK ||
        (st = parse_policy(policy_obj, "unsupported_value", POLICY_ERROR, &p->unsupported_value,
                           err)) != NEMO_RELAY_STATUS_OK)
        return st;
    const cJSON *components = nr_json_get(doc, "components");
    if (components == NULL || cJSON_IsNull(components))
        return NEMO_RELAY_STATUS_OK;
    if (!cJSON_IsArray(components))
        return nr_error_set(err, NR_E_INVALID_ARG, "components must be an array");
    size_t n = (size_t)cJSON_GetArraySize(components);
    p->items = calloc(n + 1, sizeof *p->items);
    if (p->items == NULL)
        return nr_error_nomem(err);
    for (const cJSON *c = components->child; c != NULL; c = c->next, p->n++) {
        component *item = &p->items[p->n];
        if (!cJSON_IsObject(c))
            return nr_error_set(err, NR_E_INVALID_ARG, "components[%zu] must be an object", p->n);
        const cJSON *kind = nr_json_get(c, "kind");
        if (!cJSON_IsString(kind))
            return nr_error_set(err, NR_E_INVALID_ARG,
                                "components[%zu]: missing field `kind` (a string)", p->n);
        item->kind = kind->valuestring;
        const cJSON *enabled = nr_json_get(c, "enabled");
        item->enabled = true;
        if (enabled != NULL && !cJSON_IsNull(enabled)) {
            if (!cJSON_IsBool(enabled))
                return nr_error_set(err, NR_E_INVALID_ARG,
                                    "components[%zu].enabled must be a boolean", p->n);
            item->enabled = cJSON_IsTrue(enabled);
        }
        const cJSON *config = nr_json_get(c, "config");
        if (config == NULL || cJSON_IsNull(config))
            config = p->empty;
        else if (!cJSON_IsObject(config))
            return nr_error_set(err, NR_E_INVALID_ARG, "components[%zu].config must be an object",
                                p->n);
        item->config = config;
    }
    return NEMO_RELAY_STATUS_OK;
}

static void add_diagnostic(cJSON *diags, policy level, const char *code, const char *component,
                           const char *field, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;

static void add_diagnostic(cJSON *diags, policy level, const char *code, const char *component,
                           const char *field, const char *fmt, ...)
{
    if (level == POLICY_IGNORE)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *d = cJSON_CreateObject();
    if (d == NULL)
        return;
    nr_json_add(d, "level", cJSON_CreateString(level == POLICY_ERROR ? "error" : "warning"));
    nr_json_add(d, "code", cJSON_CreateString(code));
    if (component != NULL)
        nr_json_add(d, "component", cJSON_CreateString(component));
    if (field != NULL)
        nr_json_add(d, "field", cJSON_CreateString(field));
    nr_json_add(d, "message", cJSON_CreateString(msg));
    if (!cJSON_AddItemToArray(diags, d))
        cJSON_Delete(d);
}

/* Keeps only well-formed diagnostics a plugin returned, as given. */
static void append_plugin_diagnostics(cJSON *diags, cJSON *from_plugin, const char *kind)
{
    cJSON *d = from_plugin->child;
    while (d != NULL) {
        cJSON *next = d->next;
        cJSON_DetachItemViaPointer(from_plugin, d);
        /* say which component it is about when the plugin did not */
        if (cJSON_IsObject(d) && nr_json_get(d, "component") == NULL)
            nr_json_add(d, "component", cJSON_CreateString(kind));
        if (!cJSON_AddItemToArray(diags, d))
            cJSON_Delete(d);
        d = next;
    }
}

/* Runs the validation pass.  Calls plugins: no lock held.  *out_kinds (if not
 * NULL) receives a reference to each component's kind (NULL when unknown). */
static NemoRelayStatus validate_parsed(const parsed_config *p, cJSON **out_report,
                                       plugin_kind ***out_kinds, nr_error *err)
{
    cJSON *report = cJSON_CreateObject();
    cJSON *diags = cJSON_CreateArray();
    plugin_kind **kinds = calloc(p->n + 1, sizeof *kinds);
    if (report == NULL || diags == NULL || kinds == NULL || !cJSON_AddItemToObject(report, "diagnostics", diags)) {
        cJSON_Delete(report);
        if (report == NULL || diags != NULL)
            cJSON_Delete(diags);
        free(kinds);
        return nr_error_nomem(err);
    }
    for (size_t i = 0; i < p->n; i++)
        kinds[i] = lookup_kind(p->items[i].kind);

    if (p->version != 1)
        add_diagnostic(diags, p->unsupported_value, "plugin.unsupported_config_version", NULL,
                       "version", "unsupported plugin config version %ld; expected 1", p->version);

    /* multiplicity: once per offending kind, counting disabled components */
    for (size_t i = 0; i < p->n; i++) {
        if (kinds[i] == NULL || kinds[i]->allows_multiple)
            continue;
        bool first = true, repeated = false;
        for (size_t j = 0; j < p->n; j++) {
            if (strcmp(p->items[j].kind, p->items[i].kind) != 0)
                continue;
            if (j < i)
                first = false;
            if (j != i)
                repeated = true;
        }
        if (first && repeated)
            add_diagnostic(diags, POLICY_ERROR, "plugin.duplicate_component", p->items[i].kind,
                           NULL, "plugin component '%s' may only appear once", p->items[i].kind);
    }

    for (size_t i = 0; i < p->n; i++) {
        const component *c = &p->items[i];
        if (kinds[i] == NULL) {
            add_diagnostic(diags, p->unknown_component, "plugin.unknown_component", c->kind, NULL,
                           "plugin component '%s' is not registered", c->kind);
            continue;
        }
        if (kinds[i]->ops.validate == NULL)
            continue;
        cJSON *mine = cJSON_CreateArray();
        nr_error verr = NR_ERROR_INIT;
        NemoRelayStatus st =
            mine != NULL ? kinds[i]->ops.validate(kinds[i]->ud, c->kind, c->config, mine, &verr)
                         : nr_error_nomem(&verr);
        if (st == NEMO_RELAY_STATUS_OK && mine != NULL)
            append_plugin_diagnostics(diags, mine, c->kind);
        else
            add_diagnostic(diags, POLICY_ERROR,
                           kinds[i]->ops.failure_code != NULL ? kinds[i]->ops.failure_code
                                                              : "plugin.validate_failed",
                           c->kind, NULL, "%s", nr_error_message(&verr));
        cJSON_Delete(mine);
        nr_error_clear(&verr);
    }
    *out_report = report;
    if (out_kinds != NULL) {
        *out_kinds = kinds;
    } else {
        for (size_t i = 0; i < p->n; i++)
            kind_release(kinds[i]);
        free(kinds);
    }
    return NEMO_RELAY_STATUS_OK;
}

/* "msg1; msg2; ..." of the error diagnostics, or NULL if there are none. */
static char *error_messages(const cJSON *report)
{
    const cJSON *diags = nr_json_get(report, "diagnostics");
    size_t len = 1;
    int count = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, diags)
    {
        const cJSON *level = nr_json_get(d, "level"), *msg = nr_json_get(d, "message");
        if (cJSON_IsString(level) && strcmp(level->valuestring, "error") == 0) {
            len += (cJSON_IsString(msg) ? strlen(msg->valuestring) : 0) + 2;
            count++;
        }
    }
    if (count == 0)
        return NULL;
    char *out = malloc(len);
    if (out == NULL)
        return NULL;
    out[0] = '\0';
    cJSON_ArrayForEach(d, diags)
    {
        const cJSON *level = nr_json_get(d, "level"), *msg = nr_json_get(d, "message");
        if (cJSON_IsString(level) && strcmp(level->valuestring, "error") == 0) {
            if (out[0] != '\0')
                strcat(out, "; ");
            strcat(out, cJSON_IsString(msg) ? msg->valuestring : "");
        }
    }
    return out;
}

/* ---- transactions ------------------------------------------------------------ */

/* Waits until no configuration change (or validation) runs, then marks one
 * as running.  NR_E_CONFLICT from the thread already running one (a plugin
 * calling back), or when a lease is required and `lease` is not it. */
static NemoRelayStatus begin_change(nr_plugin_lease lease, bool needs_lease, nr_error *err)
{
    nr_lock(&g_lock);
    if (g_busy && pthread_equal(g_busy_thread, pthread_self())) {
        nr_unlock(&g_lock);
        return nr_error_set(err, NR_E_CONFLICT,
                            "a plugin configuration change is already running on this thread");
    }
    while (g_busy)
        pthread_cond_wait(&g_idle, &g_lock);
    if (needs_lease && g_lease != NR_PLUGIN_NO_LEASE && g_lease != lease) {
        nr_unlock(&g_lock);
        return nr_error_set(err, NR_E_CONFLICT,
                            "an active dynamic plugin host owns the plugin configuration; close "
                            "it first");
    }
    g_busy = true;
    g_busy_thread = pthread_self();
    nr_unlock(&g_lock);
    return NEMO_RELAY_STATUS_OK;
}

static void end_change(void)
{
    nr_lock(&g_lock);
    g_busy = false;
    pthread_cond_broadcast(&g_idle);
    nr_unlock(&g_lock);
}

/* Validation calls plugins too, and a plugin's validate and register never
 * run at the same time (the ABI header promises it), so it takes its turn. */
NemoRelayStatus nr_plugin_validate(const cJSON *config, cJSON **report, nr_error *err)
{
    *report = NULL;
    parsed_config p;
    NemoRelayStatus st = parse_config(config, &p, err);
    if (st == NEMO_RELAY_STATUS_OK)
        st = begin_change(NR_PLUGIN_NO_LEASE, false, err);
    if (st == NEMO_RELAY_STATUS_OK) {
        st = validate_parsed(&p, report, NULL, err);
        end_change();
    }
    parsed_clear(&p);
    return st;
}

static void active_free(active_config *a)
{
    if (a == NULL)
        return;
    for (size_t i = a->n; i-- > 0;)
        ctx_rollback_free(a->ctxs[i]);
    for (size_t i = 0; i < a->n; i++)
        kind_release(a->kinds[i]);
    free(a->ctxs);
    free(a->kinds);
    cJSON_Delete(a->config);
    cJSON_Delete(a->report);
    free(a);
}

/* Registers every enabled component; on failure everything done is rolled
 * back and *out stays NULL.  Calls plugins: no lock held. */
static NemoRelayStatus activate(const parsed_config *p, plugin_kind **kinds,
                                const cJSON *config, const cJSON *report, active_config **out,
                                nr_error *err)
{
    *out = NULL;
    active_config *a = calloc(1, sizeof *a);
    if (a == NULL || (a->ctxs = calloc(p->n + 1, sizeof *a->ctxs)) == NULL ||
        (a->kinds = calloc(p->n + 1, sizeof *a->kinds)) == NULL) {
        if (a != NULL) {
            free(a->ctxs);
            free(a);
        }
        return nr_error_nomem(err);
    }
    for (size_t i = 0; i < p->n; i++) {
        const component *c = &p->items[i];
        if (!c->enabled)
            continue;
        if (kinds[i] == NULL) {
            active_free(a);
            return nr_error_set(err, NR_E_NOT_FOUND, "plugin component '%s' is not registered",
                                c->kind);
        }
        int total = 0, ordinal = 0;
        for (size_t j = 0; j < p->n; j++) {
            if (strcmp(p->items[j].kind, c->kind) != 0)
                continue;
            total++;
            if (j <= i && p->items[j].enabled)
                ordinal++;
        }
        nr_plugin_ctx *ctx = ctx_new(c->kind, total > 1 ? ordinal : 0);
        if (ctx == NULL) {
            active_free(a);
            return nr_error_nomem(err);
        }
        ctx->open = true;
        nr_error rerr = NR_ERROR_INIT;
        NemoRelayStatus st = kinds[i]->ops.register_(kinds[i]->ud, c->kind, c->config, ctx, &rerr);
        ctx->open = false;
        a->ctxs[a->n] = ctx;
        a->kinds[a->n] = kind_ref(kinds[i]);
        a->n++;
        if (st != NEMO_RELAY_STATUS_OK) {
            active_free(a); /* this component's registrations, then the earlier ones */
            if (rerr.kind == NR_E_NONE)
                nr_error_set(&rerr, NR_E_REGISTRATION_FAILED, "plugin '%s' failed to register",
                             c->kind);
            if (rerr.foreign == NULL) {
                rerr.kind = NR_E_REGISTRATION_FAILED;
                rerr.status = nr_errkind_status(NR_E_REGISTRATION_FAILED);
            }
            nr_error_move(err, &rerr);
            return err != NULL ? err->status : st;
        }
    }
    a->config = nr_json_dup(config);
    a->report = nr_json_dup(report);
    if (a->config == NULL || a->report == NULL) {
        active_free(a);
        return nr_error_nomem(err);
    }
    *out = a;
    return NEMO_RELAY_STATUS_OK;
}

/* Re-activates a previous configuration after a failed change; a failure to
 * do so is appended to err's message. */
static void restore_previous(const cJSON *doc, nr_error *err)
{
    parsed_config p;
    plugin_kind **kinds = NULL;
    cJSON *rep = NULL;
    active_config *restored = NULL;
    nr_error rerr = NR_ERROR_INIT;
    NemoRelayStatus st = parse_config(doc, &p, &rerr);
    if (st == NEMO_RELAY_STATUS_OK)
        st = validate_parsed(&p, &rep, &kinds, &rerr);
    if (st == NEMO_RELAY_STATUS_OK)
        st = activate(&p, kinds, doc, rep, &restored, &rerr);
    if (st == NEMO_RELAY_STATUS_OK) {
        nr_lock(&g_lock);
        g_active = restored;
        nr_unlock(&g_lock);
    } else if (err != NULL) {
        size_t len = strlen(nr_error_message(err)) + strlen(nr_error_message(&rerr)) + 64;
        char *combined = malloc(len);
        if (combined != NULL) {
            snprintf(combined, len, "%s; previous plugin configuration could not be restored: %s",
                     nr_error_message(err), nr_error_message(&rerr));
            free(err->message);
            err->message = combined;
        }
    }
    for (size_t i = 0; kinds != NULL && i < p.n; i++)
        kind_release(kinds[i]);
    free(kinds);
    cJSON_Delete(rep);
    parsed_clear(&p);
    nr_error_clear(&rerr);
}

NemoRelayStatus nr_plugin_initialize(const cJSON *config, nr_plugin_lease lease, cJSON **report,
                                     nr_error *err)
{
    *report = NULL;
    parsed_config p;
    plugin_kind **kinds = NULL;
    cJSON *rep = NULL, *previous_doc = NULL;
    NemoRelayStatus st = parse_config(config, &p, err);
    if (st != NEMO_RELAY_STATUS_OK) {
        parsed_clear(&p);
        return st;
    }
    if ((st = begin_change(lease, true, err)) != NEMO_RELAY_STATUS_OK) {
        parsed_clear(&p);
        return st;
    }
    if ((st = validate_parsed(&p, &rep, &kinds, err)) != NEMO_RELAY_STATUS_OK)
        goto done;
    char *errors = error_messages(rep);
    if (errors != NULL) {
        st = nr_error_set(err, NR_E_INVALID_CONFIG, "%s", errors);
        free(errors);
        goto done;
    }

    nr_lock(&g_lock);
    active_config *previous = g_active;
    g_active = NULL;
    nr_unlock(&g_lock);
    if (previous != NULL) { /* kept so it can be restored if the new one fails */
        previous_doc = previous->config;
        previous->config = NULL;
    }
    active_free(previous); /* rolls its registrations back, newest first */

    active_config *fresh = NULL;
    st = activate(&p, kinds, config, rep, &fresh, err);
    if (st == NEMO_RELAY_STATUS_OK) {
        nr_lock(&g_lock);
        g_active = fresh;
        nr_unlock(&g_lock);
    } else if (previous_doc != NULL) {
        restore_previous(previous_doc, err);
    }
done:
    if (st == NEMO_RELAY_STATUS_OK)
        *report = rep;
    else
        cJSON_Delete(rep);
    for (size_t i = 0; kinds != NULL && i < p.n; i++)
        kind_release(kinds[i]);
    free(kinds);
    cJSON_Delete(previous_doc);
    parsed_clear(&p);
    end_change();
    return st;
}

NemoRelayStatus nr_plugin_clear(nr_plugin_lease lease, nr_error *err)
{
    NemoRelayStatus st = begin_change(lease, true, err);
    if (st != NEMO_RELAY_STATUS_OK)
        return st;
    nr_lock(&g_lock);
    active_config *a = g_active;
    g_active = NULL;
    nr_unlock(&g_lock);
    active_free(a);
    end_change();
    return NEMO_RELAY_STATUS_OK;
}

void nr_plugin_shutdown(void)
{
    nr_lock(&g_lock);
    nr_plugin_lease lease = g_lease;
    nr_unlock(&g_lock);
    nr_plugin_clear(lease, NULL);
    nr_plugin_lease_release(lease);
}

cJSON *nr_plugin_report(void)
{
    nr_lock(&g_lock);
    cJSON *copy = g_active != NULL ? cJSON_Duplicate(g_active->report, true) : NULL;
    nr_unlock(&g_lock);
    return copy;
}

NemoRelayStatus nr_plugin_lease_acquire(nr_plugin_lease *out, nr_error *err)
{
    *out = NR_PLUGIN_NO_LEASE;
    NemoRelayStatus st = NEMO_RELAY_STATUS_OK;
    nr_lock(&g_lock);
    if (g_lease != NR_PLUGIN_NO_LEASE)
        st = nr_error_set(err, NR_E_CONFLICT,
                          "an active dynamic plugin host already exists in this process");
    else if (g_active != NULL)
        st = nr_error_set(err, NR_E_CONFLICT,
                          "a static plugin configuration is already active; clear it or pass "
                          "its components as the host's config");
    else
        *out = g_lease = g_next_lease++;
    nr_unlock(&g_lock);
    return st;
}

void nr_plugin_lease_release(nr_plugin_lease lease)
{
    nr_lock(&g_lock);
    if (g_lease == lease)
        g_lease = NR_PLUGIN_NO_LEASE;
    nr_unlock(&g_lock);
}

void nr_plugin_fork_prepare(void) { nr_lock(&g_lock); }
void nr_plugin_fork_parent(void) { nr_unlock(&g_lock); }
void nr_plugin_fork_child(void)
{
    pthread_mutex_init(&g_lock, NULL);
    pthread_cond_init(&g_idle, NULL);
    g_busy = false; /* the changing thread does not exist in the child */
}
