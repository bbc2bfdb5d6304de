/* nr_registry.c -- copy-on-write registries and per-call snapshots. */
#include "nr_registry.h"

#include "nr_json.h"

#include <stdlib.h>
#include <string.h>

/* An immutable set of registrations: one sorted list per kind.  Every item
 * holds a reference to its callback; the set itself is reference counted. */
typedef struct nr_mw_set {
    nr_refcount refs;
    nr_mw_list lists[NR_MW_KIND_COUNT]; /* items arrays owned by the set */
} nr_mw_set;

/* Guards g_global and the `locals` pointer of every scope node.  Held only
 * for pointer swaps and reference counting; never while calling out. */
static pthread_mutex_t g_registry_lock = PTHREAD_MUTEX_INITIALIZER;
static nr_mw_set *g_global;             /* NULL = empty */

/* Counters for lock-free fast paths (exact whenever the lock is not held). */
static atomic_long g_kind_counts[NR_MW_KIND_COUNT];
static atomic_long g_native_count;
static atomic_long g_local_nodes;       /* nodes whose locals are non-empty */
static atomic_ullong g_seq;

const char *nr_mw_kind_name(nr_mw_kind kind)
{
    static const char *const names[NR_MW_KIND_COUNT] = {
        "subscriber",
        "tool sanitize-request guardrail",
        "tool sanitize-response guardrail",
        "tool conditional-execution guardrail",
        "tool request intercept",
        "tool execution intercept",
        "LLM sanitize-request guardrail",
        "LLM sanitize-response guardrail",
        "LLM conditional-execution guardrail",
        "LLM request intercept",
        "LLM execution intercept",
        "LLM stream execution intercept",
    };
    return (kind >= 0 && kind < NR_MW_KIND_COUNT) ? names[kind] : "unknown";
}

nr_callback *nr_callback_ref(nr_callback *cb)
{
    if (cb != NULL)
        nr_ref_inc(&cb->refs);
    return cb;
}

void nr_callback_release(nr_callback *cb)
{
    if (cb == NULL || !nr_ref_dec(&cb->refs))
        return;
    /* free_fn runs while the owner (and so the plugin's code) is still alive. */
    if (cb->free_fn != NULL)
        cb->free_fn(cb->user_data);
    if (cb->owner != NULL)
        cb->owner->release(cb->owner);
    free(cb->name);
    free(cb);
}

long nr_registry_count(nr_mw_kind kind)
{
    return atomic_load_explicit(&g_kind_counts[kind], memory_order_relaxed);
}

long nr_registry_count_mask(unsigned kind_mask)
{
    long n = 0;
    for (int k = 0; k < NR_MW_KIND_COUNT; k++)
        if (kind_mask & NR_MW_BIT(k))
            n += atomic_load_explicit(&g_kind_counts[k], memory_order_relaxed);
    return n;
}

long nr_registry_native_count(void)
{
    return atomic_load_explicit(&g_native_count, memory_order_relaxed);
}

static void count_add(const nr_callback *cb, long delta)
{
    atomic_fetch_add(&g_kind_counts[cb->kind], delta);
    if (cb->native)
        atomic_fetch_add(&g_native_count, delta);
}

static void set_release(nr_mw_set *set)
{
    if (set == NULL || !nr_ref_dec(&set->refs))
        return;
    for (int k = 0; k < NR_MW_KIND_COUNT; k++) {
        for (size_t i = 0; i < set->lists[k].n; i++)
            nr_callback_release(set->lists[k].items[i]);
        free(set->lists[k].items);
    }
    free(set);
}

static nr_mw_set *set_ref(nr_mw_set *set)
{
    if (set != NULL)
        nr_ref_inc(&set->refs);
    return set;
}

static size_t set_size(const nr_mw_set *set)
{
    size_t n = 0;
    if (set != NULL)
        for (int k = 0; k < NR_MW_KIND_COUNT; k++)
            n += set->lists[k].n;
    return n;
}

/* Sort order inside one registry. */
static int entry_cmp(const nr_callback *a, const nr_callback *b)
{
    if (a->kind == NR_MW_SUBSCRIBER)
        return a->seq < b->seq ? -1 : (a->seq > b->seq);
    if (a->priority != b->priority)
        return a->priority < b->priority ? -1 : 1;
    return strcmp(a->name, b->name);
}

static ssize_t list_find(const nr_mw_list *list, const char *name)
{
    for (size_t i = 0; i < list->n; i++)
        if (strcmp(list->items[i]->name, name) == 0)
            return (ssize_t)i;
    return -1;
}

/* A copy of `old` (may be NULL) with `add` inserted (if non-NULL) and the
 * entry at index `drop` of kind `kind` removed (if drop >= 0).  The copy takes
 * its own references.  NULL on allocation failure. */
static nr_mw_set *set_edit(const nr_mw_set *old, nr_mw_kind kind, nr_callback *add, ssize_t drop)
{
    nr_mw_set *set = calloc(1, sizeof *set);
    if (set == NULL)
        return NULL;
    nr_ref_init(&set->refs);
    for (int k = 0; k < NR_MW_KIND_COUNT; k++) {
        const nr_mw_list *src = old != NULL ? &old->lists[k] : NULL;
        size_t n = src != NULL ? src->n : 0;
        size_t cap = n + ((int)kind == k && add != NULL ? 1 : 0);
        if (cap == 0)
            continue;
        nr_callback **items = malloc(cap * sizeof *items);
        if (items == NULL) {
            set_release(set);
            return NULL;
        }
        size_t out = 0;
        bool placed = !((int)kind == k && add != NULL);
        for (size_t i = 0; i < n; i++) {
            if ((int)kind == k && (ssize_t)i == drop)
                continue;
            if (!placed && entry_cmp(add, src->items[i]) < 0) {
                items[out++] = nr_callback_ref(add);
                placed = true;
            }
            items[out++] = nr_callback_ref(src->items[i]);
        }
        if (!placed)
            items[out++] = nr_callback_ref(add);
        set->lists[k].items = items;
        set->lists[k].n = out;
    }
    return set;
}

static nr_callback *callback_new(const nr_callback_spec *spec, nr_error *err)
{
    nr_callback *cb = calloc(1, sizeof *cb);
    if (cb == NULL || (cb->name = nr_strdup(spec->name != NULL ? spec->name : "")) == NULL) {
        free(cb);
        nr_error_nomem(err);
        return NULL;
    }
    nr_ref_init(&cb->refs);
    cb->kind = spec->kind;
    cb->priority = spec->priority;
    cb->break_chain = spec->break_chain;
    cb->native = spec->native;
    cb->seq = atomic_fetch_add(&g_seq, 1);
    cb->fn = spec->fn;
    cb->user_data = spec->user_data;
    cb->free_fn = spec->free_fn;
    cb->flush = spec->kind == NR_MW_SUBSCRIBER ? spec->flush : NULL;
    cb->owner = spec->owner;
    if (cb->owner != NULL) /* here, not under the registry lock: it is a call out */
        cb->owner->retain(cb->owner);
    return cb;
}

/* Releases a record that never got registered, without running free_fn:
 * a failed registration takes nothing.  Called with no lock held. */
static void callback_discard(nr_callback *cb)
{
    if (cb->owner != NULL)
        cb->owner->release(cb->owner);
    free(cb->name);
    free(cb);
}

NemoRelayStatus nr_register(const nr_callback_spec *spec, nr_scope *scope, nr_error *err)
{
    if (spec->kind < 0 || spec->kind >= NR_MW_KIND_COUNT || spec->fn.any == NULL)
        return nr_error_set(err, NR_E_INVALID_ARG, "invalid registration");
    nr_callback *cb = callback_new(spec, err);
    if (cb == NULL)
        return nr_error_status(err);

    NemoRelayStatus st = NEMO_RELAY_STATUS_OK;
    nr_mw_set *old = NULL;
    nr_lock(&g_registry_lock);
    nr_mw_set **slot = scope != NULL ? &scope->locals : &g_global;
    if (scope != NULL && atomic_load(&scope->popped)) {
        char id[NR_UUID_STR_LEN];
        nr_uuid_format(&scope->uuid, id);
        st = nr_error_set(err, NR_E_SCOPE_NOT_FOUND, "scope %s not found", id);
        goto unlock;
    }
    if (*slot != NULL && list_find(&(*slot)->lists[spec->kind], cb->name) >= 0) {
        st = nr_error_set(err, NR_E_ALREADY_EXISTS, "%s '%s' already exists",
                          nr_mw_kind_name(spec->kind), cb->name);
        goto unlock;
    }
    nr_mw_set *fresh = set_edit(*slot, spec->kind, cb, -1);
    if (fresh == NULL) {
        st = nr_error_nomem(err);
        goto unlock;
    }
    if (scope != NULL && set_size(*slot) == 0)
        atomic_fetch_add(&g_local_nodes, 1);
    old = *slot;
    *slot = fresh;
    count_add(cb, 1);
unlock:
    nr_unlock(&g_registry_lock);
    if (st != NEMO_RELAY_STATUS_OK) {
        callback_discard(cb);
        return st;
    }
    nr_callback_release(cb); /* the set holds its own reference */
    set_release(old);
    return NEMO_RELAY_STATUS_OK;
}

bool nr_deregister(nr_mw_kind kind, const char *name, nr_scope *scope)
{
    if (kind < 0 || kind >= NR_MW_KIND_COUNT || name == NULL)
        return false;
    bool found = false;
    nr_mw_set *old = NULL;
    nr_lock(&g_registry_lock);
    nr_mw_set **slot = scope != NULL ? &scope->locals : &g_global;
    ssize_t at = *slot != NULL ? list_find(&(*slot)->lists[kind], name) : -1;
    if (at >= 0) {
        nr_callback *gone = (*slot)->lists[kind].items[at];
        nr_mw_set *fresh = set_edit(*slot, kind, NULL, at);
        if (fresh != NULL) {
            count_add(gone, -1);
            old = *slot;
            if (set_size(fresh) == 0) {
                set_release(fresh);
                fresh = NULL;
                if (scope != NULL)
                    atomic_fetch_sub(&g_local_nodes, 1);
            }
            *slot = fresh;
            found = true;
        }
    }
    nr_unlock(&g_registry_lock);
    set_release(old); /* may run free_fn: outside the lock */
    return found;
}

static void uncount_set(const nr_mw_set *set)
{
    if (set == NULL)
        return;
    for (int k = 0; k < NR_MW_KIND_COUNT; k++)
        for (size_t i = 0; i < set->lists[k].n; i++)
            count_add(set->lists[k].items[i], -1);
}

void nr_registry_drop_locals(nr_scope *s)
{
    atomic_store(&s->popped, true);
    /* Registration checks `popped` under the lock, so once no node has locals
     * there is nothing to take and the lock can be skipped. */
    if (atomic_load(&g_local_nodes) == 0)
        return;
    nr_lock(&g_registry_lock);
    nr_mw_set *old = s->locals;
    s->locals = NULL;
    if (old != NULL) {
        uncount_set(old);
        atomic_fetch_sub(&g_local_nodes, 1);
    }
    nr_unlock(&g_registry_lock);
    set_release(old);
}

cJSON *nr_registry_describe(void)
{
    nr_lock(&g_registry_lock);
    nr_mw_set *set = set_ref(g_global);
    nr_unlock(&g_registry_lock);
    cJSON *arr = cJSON_CreateArray();
    for (int k = 0; arr != NULL && set != NULL && k < NR_MW_KIND_COUNT; k++) {
        for (size_t i = 0; i < set->lists[k].n; i++) {
            const nr_callback *cb = set->lists[k].items[i];
            cJSON *o = cJSON_CreateObject();
            if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
                cJSON_Delete(o);
                cJSON_Delete(arr);
                arr = NULL;
                break;
            }
            nr_json_add(o, "kind", cJSON_CreateString(nr_mw_kind_name(cb->kind)));
            nr_json_add(o, "name", cJSON_CreateString(cb->name));
            nr_json_add(o, "priority", cJSON_CreateNumber(cb->priority));
            nr_json_add(o, "break_chain", cJSON_CreateBool(cb->break_chain));
            nr_json_add(o, "native", cJSON_CreateBool(cb->native));
        }
    }
    set_release(set);
    return arr;
}

void nr_registry_clear_all(void)
{
    nr_lock(&g_registry_lock);
    nr_mw_set *old = g_global;
    g_global = NULL;
    uncount_set(old);
    nr_unlock(&g_registry_lock);
    set_release(old);
}

/* Stable merge by priority only (subscribers keep their order: global first,
 * then root to top). */
static void merge_kind(nr_snapshot *snap, int k)
{
    size_t total = snap->global != NULL ? snap->global->lists[k].n : 0;
    size_t local_total = 0;
    for (size_t i = 0; i < snap->n_locals; i++)
        local_total += snap->locals[i]->lists[k].n;
    if (local_total == 0)
        return;
    total += local_total;
    nr_callback **items = malloc(total * sizeof *items);
    if (items == NULL)
        return; /* keep the global list only */
    size_t n = 0;
    if (snap->global != NULL)
        for (size_t i = 0; i < snap->global->lists[k].n; i++)
            items[n++] = snap->global->lists[k].items[i];
    for (size_t j = 0; j < snap->n_locals; j++)
        for (size_t i = 0; i < snap->locals[j]->lists[k].n; i++)
            items[n++] = snap->locals[j]->lists[k].items[i];
    if (k != NR_MW_SUBSCRIBER) {
        /* insertion sort: stable, and lists are short */
        for (size_t i = 1; i < n; i++) {
            nr_callback *x = items[i];
            size_t j = i;
            while (j > 0 && items[j - 1]->priority > x->priority) {
                items[j] = items[j - 1];
                j--;
            }
            items[j] = x;
        }
    }
    snap->lists[k].items = items;
    snap->lists[k].n = n;
    snap->merged |= NR_MW_BIT(k);
}

void nr_snapshot_take(nr_snapshot *snap, nr_scope *chain_top, unsigned kind_mask)
{
    memset(snap, 0, sizeof *snap);
    bool want_locals = chain_top != NULL && atomic_load(&g_local_nodes) > 0;
    nr_lock(&g_registry_lock);
    snap->global = set_ref(g_global);
    if (want_locals) {
        size_t count = 0;
        for (nr_scope *s = chain_top; s != NULL; s = s->below)
            if (s->locals != NULL)
                count++;
        snap->locals = count <= 4 ? snap->locals_small : malloc(count * sizeof *snap->locals);
        if (snap->locals != NULL) {
            /* collected top to root, stored root to top */
            size_t i = count;
            for (nr_scope *s = chain_top; s != NULL; s = s->below)
                if (s->locals != NULL)
                    snap->locals[--i] = set_ref(s->locals);
            snap->n_locals = count;
        }
    }
    nr_unlock(&g_registry_lock);
    for (int k = 0; k < NR_MW_KIND_COUNT; k++) {
        if (!(kind_mask & NR_MW_BIT(k)))
            continue;
        if (snap->global != NULL)
            snap->lists[k] = snap->global->lists[k];
        if (snap->n_locals > 0)
            merge_kind(snap, k);
    }
}

void nr_snapshot_release(nr_snapshot *snap)
{
    for (int k = 0; k < NR_MW_KIND_COUNT; k++)
        if (snap->merged & NR_MW_BIT(k))
            free(snap->lists[k].items);
    for (size_t i = 0; i < snap->n_locals; i++)
        set_release(snap->locals[i]);
    if (snap->locals != snap->locals_small)
        free(snap->locals);
    set_release(snap->global);
    memset(snap, 0, sizeof *snap);
}

void nr_registry_fork_prepare(void) { nr_lock(&g_registry_lock); }
void nr_registry_fork_parent(void) { nr_unlock(&g_registry_lock); }
void nr_registry_fork_child(void) { pthread_mutex_init(&g_registry_lock, NULL); }
