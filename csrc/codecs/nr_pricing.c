/* nr_pricing.c -- pricing catalogs, the active set, cost estimates, and the
 * built-in `pricing` plugin kind. */
#include "nr_pricing.h"

#include "nr_codec_impl.h"
#include "nr_json.h"
#include "nr_plugin.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the active set ----------------------------------------------------------------- */

typedef struct table {
    atomic_int refs;
    cJSON *catalogs; /* an array of checked catalogs */
} table;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static table *g_active;          /* guarded by g_lock */
static uintptr_t g_generation;   /* guarded by g_lock: bumped by every install */
static atomic_bool g_has_active; /* readers' fast path */

static void table_unref(table *t)
{
    if (t != NULL && atomic_fetch_sub(&t->refs, 1) == 1) {
        cJSON_Delete(t->catalogs);
        free(t);
    }
}

static table *active_ref(void)
{
    if (!atomic_load(&g_has_active))
        return NULL;
    pthread_mutex_lock(&g_lock);
    table *t = g_active;
    if (t != NULL)
        atomic_fetch_add(&t->refs, 1);
    pthread_mutex_unlock(&g_lock);
    return t;
}

/* Installs t (may be NULL) and returns its generation. */
static uintptr_t install(table *t)
{
    pthread_mutex_lock(&g_lock);
    table *old = g_active;
    g_active = t;
    uintptr_t gen = ++g_generation;
    atomic_store(&g_has_active, t != NULL);
    pthread_mutex_unlock(&g_lock);
    table_unref(old);
    return gen;
}

/* Clears the active set if it is still the one installed as `gen`. */
static void uninstall(uintptr_t gen)
{
    table *old = NULL;
    pthread_mutex_lock(&g_lock);
    if (g_generation == gen) {
        old = g_active;
        g_active = NULL;
        atomic_store(&g_has_active, false);
    }
    pthread_mutex_unlock(&g_lock);
    table_unref(old);
}

static uintptr_t set_active(cJSON *catalogs)
{
    table *t = NULL;
    if (catalogs != NULL && cJSON_GetArraySize(catalogs) > 0) {
        t = calloc(1, sizeof *t);
        if (t != NULL) {
            atomic_init(&t->refs, 1);
            t->catalogs = catalogs;
            catalogs = NULL;
        }
    }
    cJSON_Delete(catalogs);
    return install(t);
}

void nr_pricing_set_active(cJSON *catalogs)
{
    set_active(catalogs);
}

bool nr_pricing_active(void) { return atomic_load(&g_has_active); }

/* ---- checking catalogs ------------------------------------------------------------------ */

static bool bad(nr_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static bool bad(nr_error *err, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    nr_error_set(err, NR_E_INVALID_CONFIG, "%s", text);
    return false;
}

static bool nonempty(const cJSON *entry, const char *key)
{
    const cJSON *v = nr_json_get(entry, key);
    if (!cJSON_IsString(v))
        return false;
    for (const char *p = v->valuestring; *p != '\0'; p++)
        if (!isspace((unsigned char)*p))
            return true;
    return false;
}

static bool check_rate(const cJSON *rates, const char *key, bool required, size_t i,
                       const char *prefix, nr_error *err)
{
    const cJSON *v = nr_json_get(rates, key);
    if (v == NULL || cJSON_IsNull(v)) {
        if (required)
            return bad(err, "pricing entry %zu has empty %s.%s", i, prefix, key);
        return true;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0)
        return bad(err, "pricing entry %zu has invalid %s.%s: %s", i, prefix, key,
                   cJSON_IsNumber(v) ? "a negative or non-finite rate" : "not a number");
    return true;
}

static bool check_rates(const cJSON *rates, size_t i, const char *prefix, nr_error *err)
{
    if (!cJSON_IsObject(rates))
        return bad(err, "pricing entry %zu has invalid %s: expected an object", i, prefix);
    return check_rate(rates, "input_per_million", true, i, prefix, err) &&
           check_rate(rates, "output_per_million", true, i, prefix, err) &&
           check_rate(rates, "cache_read_per_million", false, i, prefix, err) &&
           check_rate(rates, "cache_write_per_million", false, i, prefix, err);
}

/* lowercase, trimmed (and for providers, '/'-trimmed) copy */
static void normalize(const char *in, bool provider, char *out, size_t n)
{
    while (*in != '\0' && (isspace((unsigned char)*in) || (provider && *in == '/')))
        in++;
    size_t len = strlen(in);
    while (len > 0 && (isspace((unsigned char)in[len - 1]) || (provider && in[len - 1] == '/')))
        len--;
    if (len >= n)
        len = n - 1;
    for (size_t k = 0; k < len; k++)
        out[k] = (char)tolower((unsigned char)in[k]);
    out[len] = '\0';
}

static const char *const UNITS[] = {"per_token", "per_request", "per_second", "gpu_hour", NULL};
static const char *const ENTRY_KEYS[] = {"provider", "model_id", "aliases", "currency", "unit",
                                         "rates", "rate_schedule", "prompt_cache",
                                         "pricing_as_of", "pricing_source", NULL};

static bool check_entry(const cJSON *e, size_t i, nr_error *err)
{
    if (!cJSON_IsObject(e))
        return bad(err, "pricing entry %zu is not an object", i);
    for (const cJSON *k = e->child; k != NULL; k = k->next)
        if (!nr_codec_key_in(k->string, ENTRY_KEYS))
            return bad(err, "pricing entry %zu has an unknown field '%s'", i, k->string);
    static const char *const REQUIRED[] = {"provider", "model_id", "pricing_as_of", "pricing_source"};
    for (size_t k = 0; k < 4; k++)
        if (!nonempty(e, REQUIRED[k]))
            return bad(err, "pricing entry %zu has empty %s", i, REQUIRED[k]);
    if (nr_json_get(e, "currency") != NULL && !nonempty(e, "currency"))
        return bad(err, "pricing entry %zu has empty currency", i);
    const cJSON *unit = nr_json_get(e, "unit");
    if (unit != NULL && (!cJSON_IsString(unit) || !nr_codec_key_in(unit->valuestring, UNITS)))
        return bad(err, "pricing entry %zu has invalid unit (expected per_token, per_request, "
                        "per_second or gpu_hour)", i);
    const cJSON *aliases = nr_json_get(e, "aliases");
    if (aliases != NULL && !cJSON_IsArray(aliases))
        return bad(err, "pricing entry %zu has invalid aliases: expected a list of strings", i);
    for (const cJSON *a = aliases != NULL ? aliases->child : NULL; a != NULL; a = a->next)
        if (!cJSON_IsString(a))
            return bad(err, "pricing entry %zu has invalid aliases: expected a list of strings", i);
    const cJSON *rates = nr_json_get(e, "rates"), *sched = nr_json_get(e, "rate_schedule");
    bool per_token = unit == NULL || strcmp(unit->valuestring, "per_token") == 0;
    if (per_token && (rates == NULL || cJSON_IsNull(rates)) && (sched == NULL || cJSON_IsNull(sched)))
        return bad(err, "pricing entry %zu has empty rates or rate_schedule", i);
    if (rates != NULL && !cJSON_IsNull(rates) && !check_rates(rates, i, "rates", err))
        return false;
    if (sched != NULL && !cJSON_IsNull(sched)) {
        const cJSON *type = nr_json_get(sched, "type"), *tiers = nr_json_get(sched, "tiers");
        const cJSON *applies = nr_json_get(sched, "applies_to");
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "prompt_token_threshold") != 0)
            return bad(err, "pricing entry %zu has invalid rate_schedule.type (expected "
                            "prompt_token_threshold)", i);
        if (applies != NULL && (!cJSON_IsString(applies) || strcmp(applies->valuestring, "full_request") != 0))
            return bad(err, "pricing entry %zu has invalid rate_schedule.applies_to (expected "
                            "full_request)", i);
        if (!cJSON_IsArray(tiers) || tiers->child == NULL)
            return bad(err, "pricing entry %zu has empty rate_schedule.tiers", i);
        size_t t = 0;
        for (const cJSON *tier = tiers->child; tier != NULL; tier = tier->next, t++) {
            const cJSON *mn = nr_json_get(tier, "min_prompt_tokens");
            const cJSON *mx = nr_json_get(tier, "max_prompt_tokens");
            if (cJSON_IsNumber(mn) && cJSON_IsNumber(mx) && mn->valuedouble > mx->valuedouble)
                return bad(err, "pricing entry %zu has invalid rate_schedule.tiers.prompt_tokens: "
                                "min_prompt_tokens %.0f is above max_prompt_tokens", i, mn->valuedouble);
            char prefix[64];
            snprintf(prefix, sizeof prefix, "rate_schedule.tiers[%zu].rates", t);
            if (!check_rates(nr_json_get(tier, "rates"), i, prefix, err))
                return false;
        }
    }
    const cJSON *pc = nr_json_get(e, "prompt_cache");
    const cJSON *ra = nr_json_get(pc, "read_accounting");
    if (pc != NULL && (!cJSON_IsString(ra) || (strcmp(ra->valuestring, "included_in_prompt_tokens") != 0 &&
                                                strcmp(ra->valuestring, "separate") != 0)))
        return bad(err, "pricing entry %zu has invalid prompt_cache.read_accounting (expected "
                        "included_in_prompt_tokens or separate)", i);
    return true;
}

/* Visits "provider/model" for the model id and every alias. */
static bool entry_keys_unique(const cJSON *entries, nr_error *err)
{
    size_t n = 0;
    for (const cJSON *e = entries->child; e != NULL; e = e->next)
        n += 1 + (size_t)cJSON_GetArraySize(nr_json_get(e, "aliases"));
    char **keys = calloc(n + 1, sizeof *keys);
    if (keys == NULL) {
        nr_error_nomem(err);
        return false;
    }
    size_t k = 0;
    bool ok = true;
    for (const cJSON *e = entries->child; ok && e != NULL; e = e->next) {
        char prov[256];
        normalize(nr_json_get(e, "provider")->valuestring, true, prov, sizeof prov);
        const cJSON *aliases = nr_json_get(e, "aliases");
        const cJSON *names[1] = {nr_json_get(e, "model_id")};
        for (int pass = 0; ok && pass < 2; pass++) {
            for (const cJSON *m = pass == 0 ? names[0] : (aliases != NULL ? aliases->child : NULL);
                 ok && m != NULL; m = pass == 0 ? NULL : m->next) {
                char model[256], key[520];
                normalize(m->valuestring, false, model, sizeof model);
                if (model[0] == '\0')
                    continue;
                snprintf(key, sizeof key, "%s/%s", prov, model);
                for (size_t j = 0; ok && j < k; j++)
                    if (strcmp(keys[j], key) == 0)
                        ok = bad(err, "duplicate pricing model alias '%s'", key);
                if (ok && (keys[k++] = strdup(key)) == NULL) {
                    nr_error_nomem(err);
                    ok = false;
                }
            }
        }
    }
    for (size_t j = 0; j < k; j++)
        free(keys[j]);
    free(keys);
    return ok;
}

bool nr_pricing_check_catalog(const cJSON *catalog, nr_error *err)
{
    if (!cJSON_IsObject(catalog))
        return bad(err, "invalid pricing catalog JSON: expected an object");
    const cJSON *version = nr_json_get(catalog, "version"), *entries = nr_json_get(catalog, "entries");
    if (!cJSON_IsNumber(version))
        return bad(err, "invalid pricing catalog JSON: missing field 'version'");
    if (version->valuedouble != 1)
        return bad(err, "unsupported pricing catalog version %.0f", version->valuedouble);
    if (!cJSON_IsArray(entries))
        return bad(err, "invalid pricing catalog JSON: missing field 'entries'");
    size_t i = 0;
    for (const cJSON *e = entries->child; e != NULL; e = e->next, i++)
        if (!check_entry(e, i, err))
            return false;
    return entry_keys_unique(entries, err);
}

static cJSON *read_catalog_file(const char *path, nr_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        bad(err, "could not read pricing catalog file '%s': %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf != NULL && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            char *more = realloc(buf, cap *= 2);
            if (more == NULL) {
                free(buf);
                buf = NULL;
            }
            buf = more;
        }
    }
    fclose(f);
    if (buf == NULL) {
        nr_error_nomem(err);
        return NULL;
    }
    nr_error perr = NR_ERROR_INIT;
    cJSON *j = nr_json_parse(buf, len, "pricing catalog", &perr);
    free(buf);
    if (j == NULL) {
        bad(err, "invalid pricing catalog JSON in '%s': %s", path, nr_error_message(&perr));
        nr_error_clear(&perr);
    }
    return j;
}

cJSON *nr_pricing_catalogs_from_config(const cJSON *config, nr_error *err)
{
    if (!cJSON_IsObject(config)) {
        bad(err, "expected an object");
        return NULL;
    }
    for (const cJSON *k = config->child; k != NULL; k = k->next)
        if (strcmp(k->string, "sources") != 0) {
            bad(err, "unknown field '%s', expected 'sources'", k->string);
            return NULL;
        }
    const cJSON *sources = nr_json_get(config, "sources");
    if (sources != NULL && !cJSON_IsArray(sources)) {
        bad(err, "'sources' must be a list");
        return NULL;
    }
    cJSON *out = cJSON_CreateArray();
    size_t i = 0;
    for (const cJSON *s = sources != NULL ? sources->child : NULL; out != NULL && s != NULL;
         s = s->next, i++) {
        const cJSON *type = nr_json_get(s, "type");
        cJSON *catalog = NULL;
        if (cJSON_IsString(type) && strcmp(type->valuestring, "inline") == 0) {
            catalog = nr_json_dup(nr_json_get(s, "catalog"));
            if (catalog == NULL)
                bad(err, "source %zu has no 'catalog'", i);
        } else if (cJSON_IsString(type) && strcmp(type->valuestring, "file") == 0) {
            const cJSON *path = nr_json_get(s, "path");
            if (!cJSON_IsString(path))
                bad(err, "source %zu has no 'path'", i);
            else
                catalog = read_catalog_file(path->valuestring, err);
        } else {
            bad(err, "source %zu has an unknown type (expected inline or "
                     "file)", i);
        }
        if (catalog == NULL || !nr_pricing_check_catalog(catalog, err) ||
            !cJSON_AddItemToArray(out, catalog)) {
            cJSON_Delete(catalog);
            cJSON_Delete(out);
            return NULL;
        }
    }
    if (out == NULL)
        nr_error_nomem(err);
    return out;
}

/* ---- lookup and estimates ---------------------------------------------------------------- */

static bool entry_has_model(const cJSON *e, const char *model)
{
    char buf[256];
    normalize(nr_json_get(e, "model_id")->valuestring, false, buf, sizeof buf);
    if (strcmp(buf, model) == 0)
        return true;
    const cJSON *aliases = nr_json_get(e, "aliases");
    for (const cJSON *a = cJSON_IsArray(aliases) ? aliases->child : NULL; a != NULL; a = a->next) {
        normalize(a->valuestring, false, buf, sizeof buf);
        if (buf[0] != '\0' && strcmp(buf, model) == 0)
            return true;
    }
    return false;
}

static const cJSON *find_in(const cJSON *catalogs, const char *provider, const char *model)
{
    for (const cJSON *c = catalogs->child; c != NULL; c = c->next) {
        const cJSON *entries = nr_json_get(c, "entries");
        for (const cJSON *e = entries->child; e != NULL; e = e->next) {
            if (provider != NULL) {
                char p[256];
                normalize(nr_json_get(e, "provider")->valuestring, true, p, sizeof p);
                if (strcmp(p, provider) != 0)
                    continue;
            }
            if (entry_has_model(e, model))
                return e;
        }
    }
    return NULL;
}

/* Upstream's lookup order: (provider, model), (provider, last segment),
 * then every '/'-suffix of the model under any provider. */
static const cJSON *lookup(const cJSON *catalogs, const char *provider_in, const char *model_in)
{
    char model[256], provider[256];
    normalize(model_in, false, model, sizeof model);
    if (model[0] == '\0')
        return NULL;
    const char *last = strrchr(model, '/');
    const char *terminal = last != NULL ? last + 1 : model;
    const cJSON *e = NULL;
    if (provider_in != NULL) {
        normalize(provider_in, true, provider, sizeof provider);
        if (provider[0] != '\0' && (e = find_in(catalogs, provider, model)) == NULL)
            e = find_in(catalogs, provider, terminal);
    } else if (last != NULL) {
        size_t plen = (size_t)(last - model);
        memcpy(provider, model, plen);
        provider[plen] = '\0';
        e = find_in(catalogs, provider, terminal);
    }
    for (const char *p = model; e == NULL && p != NULL; p = strchr(p, '/')) {
        if (*p == '/')
            p++;
        if (*p != '\0')
            e = find_in(catalogs, NULL, p);
    }
    return e;
}

static double count(const cJSON *usage, const char *key)
{
    const cJSON *v = nr_json_get(usage, key);
    /* token counts are whole and far below 2^63 */
    return cJSON_IsNumber(v) && v->valuedouble > 0 && v->valuedouble < 9e18
               ? (double)(long long)v->valuedouble
               : 0;
}

/* Amounts rounded to 1e-12 of the currency, as upstream (amounts are >= 0
 * and below 2^63 / 1e12, so an integer conversion rounds them). */
static double round12(double x)
{
    return x < 9e6 ? (double)(long long)(x * 1e12 + 0.5) / 1e12 : x;
}

static const cJSON *rates_for(const cJSON *entry, const cJSON *usage)
{
    const cJSON *sched = nr_json_get(entry, "rate_schedule");
    if (cJSON_IsObject(sched)) {
        const cJSON *pt = nr_json_get(usage, "prompt_tokens");
        if (!cJSON_IsNumber(pt))
            return NULL;
        for (const cJSON *t = nr_json_get(sched, "tiers")->child; t != NULL; t = t->next) {
            const cJSON *mn = nr_json_get(t, "min_prompt_tokens"), *mx = nr_json_get(t, "max_prompt_tokens");
            if ((!cJSON_IsNumber(mn) || pt->valuedouble >= mn->valuedouble) &&
                (!cJSON_IsNumber(mx) || pt->valuedouble <= mx->valuedouble))
                return nr_json_get(t, "rates");
        }
        return NULL;
    }
    return nr_json_get(entry, "rates");
}

static bool add_part(cJSON *cost, const char *key, double tokens, const cJSON *rates,
                     const char *rate_key, double *total)
{
    const cJSON *rate = nr_json_get(rates, rate_key);
    if (tokens <= 0 || !cJSON_IsNumber(rate))
        return true;
    double amount = round12(tokens * rate->valuedouble / 1e6);
    *total += amount;
    return nr_json_add(cost, key, cJSON_CreateNumber(amount));
}

static cJSON *estimate_with(const cJSON *entry, const cJSON *usage)
{
    const cJSON *unit = nr_json_get(entry, "unit");
    if (unit != NULL && strcmp(unit->valuestring, "per_token") != 0)
        return NULL;
    const cJSON *rates = rates_for(entry, usage);
    if (rates == NULL)
        return NULL;
    double prompt = count(usage, "prompt_tokens"), completion = count(usage, "completion_tokens");
    double cache_read = count(usage, "cache_read_tokens"), cache_write = count(usage, "cache_write_tokens");
    if (prompt == 0 && completion == 0 && cache_read == 0 && cache_write == 0)
        return NULL;
    const cJSON *ra = nr_json_get(nr_json_get(entry, "prompt_cache"), "read_accounting");
    bool separate = cJSON_IsString(ra) && strcmp(ra->valuestring, "separate") == 0;
    double billable = separate ? prompt : (prompt > cache_read ? prompt - cache_read : 0);
    const cJSON *currency = nr_json_get(entry, "currency");
    cJSON *cost = cJSON_CreateObject();
    double total = 0;
    bool ok = cost != NULL && nr_json_add(cost, "total", cJSON_CreateNumber(0)) &&
              nr_json_add(cost, "currency", cJSON_CreateString(cJSON_IsString(currency)
                                                                   ? currency->valuestring : "USD")) &&
              add_part(cost, "input", billable, rates, "input_per_million", &total) &&
              add_part(cost, "output", completion, rates, "output_per_million", &total) &&
              add_part(cost, "cache_read", cache_read, rates, "cache_read_per_million", &total) &&
              add_part(cost, "cache_write", cache_write, rates, "cache_write_per_million", &total) &&
              nr_json_add(cost, "source", cJSON_CreateString("model_pricing")) &&
              nr_codec_copy_as(cost, "pricing_provider", entry, "provider") &&
              nr_codec_copy_as(cost, "pricing_model", entry, "model_id") &&
              nr_codec_copy_as(cost, "pricing_as_of", entry, "pricing_as_of") &&
              nr_codec_copy_as(cost, "pricing_source", entry, "pricing_source");
    if (ok)
        cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(cost, "total"), round12(total));
    if (!ok) {
        cJSON_Delete(cost);
        return NULL;
    }
    return cost;
}

cJSON *nr_pricing_estimate(const char *provider, const char *model, const cJSON *usage)
{
    table *t = active_ref();
    if (t == NULL || model == NULL || !cJSON_IsObject(usage)) {
        table_unref(t);
        return NULL;
    }
    const cJSON *entry = lookup(t->catalogs, provider, model);
    cJSON *cost = entry != NULL ? estimate_with(entry, usage) : NULL;
    table_unref(t);
    return cost;
}

bool nr_pricing_attach(cJSON *ann, const char *provider)
{
    if (!nr_pricing_active())
        return false;
    const cJSON *model = nr_json_get(ann, "model");
    cJSON *usage = cJSON_GetObjectItemCaseSensitive(ann, "usage");
    if (!cJSON_IsString(model) || !cJSON_IsObject(usage) || nr_json_get(usage, "cost") != NULL)
        return false;
    cJSON *cost = nr_pricing_estimate(provider, model->valuestring, usage);
    return cost != NULL && nr_json_add(usage, "cost", cost);
}

/* ---- the `pricing` plugin kind --------------------------------------------------------------- */

static NemoRelayStatus kind_validate(void *ud, const char *kind, const cJSON *config,
                                     cJSON *diagnostics, nr_error *err)
{
    (void)ud;
    (void)kind;
    (void)diagnostics;
    cJSON *catalogs = nr_pricing_catalogs_from_config(config, err);
    if (catalogs == NULL) {
        nr_error_prefix(err, "invalid pricing config");
        return nr_error_status(err);
    }
    cJSON_Delete(catalogs);
    return NEMO_RELAY_STATUS_OK;
}

/* A component's rollback removes its own catalogs only: a configuration
 * that replaces this one installs its catalogs before this one rolls back. */
static void reset_active(void *ud)
{
    uninstall((uintptr_t)ud);
}

static NemoRelayStatus kind_register(void *ud, const char *kind, const cJSON *config,
                                     nr_plugin_ctx *ctx, nr_error *err)
{
    (void)ud;
    (void)kind;
    cJSON *catalogs = nr_pricing_catalogs_from_config(config, err);
    if (catalogs == NULL) {
        nr_error_prefix(err, "invalid pricing config");
        return nr_error_status(err);
    }
    /* the generation this install will get: installs happen under the
     * configuration lock, one at a time */
    pthread_mutex_lock(&g_lock);
    uintptr_t next = g_generation + 1;
    pthread_mutex_unlock(&g_lock);
    NemoRelayStatus st = nr_plugin_ctx_on_rollback(ctx, reset_active, (void *)next, err);
    if (st != NEMO_RELAY_STATUS_OK) {
        cJSON_Delete(catalogs);
        return st;
    }
    set_active(catalogs);
    return NEMO_RELAY_STATUS_OK;
}

static const nr_plugin_ops KIND_OPS = {kind_validate, kind_register, NULL, "pricing.invalid_config"};

bool nr_pricing_register_kind(nr_error *err)
{
    nr_error e = NR_ERROR_INIT;
    NemoRelayStatus st = nr_plugin_register_kind("pricing", false, &KIND_OPS, NULL, &e);
    if (st == NEMO_RELAY_STATUS_OK || e.kind == NR_E_ALREADY_EXISTS) {
        nr_error_clear(&e);
        return true;
    }
    nr_error_move(err, &e);
    return false;
}
