/* manifest_keys.c -- unknown and misspelt manifest names (manifest_keys.h). */
#include "manifest_keys.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The schema of NeMo Relay's DynamicPluginManifest (manifest_version 1):
 * every table and the keys each accepts.  Top-level plain keys have
 * keys == NULL. */
typedef struct nr_mf_table_schema {
    const char *name;
    const char *const *keys; /* NULL-terminated; NULL for a plain key */
} nr_mf_table_schema;

static const char *const plugin_keys[] = {"id", "name", "version", "kind", NULL};
static const char *const compat_keys[] = {"relay", "native_api", "worker_protocol", NULL};
static const char *const defaults_keys[] = {"enabled", NULL};
static const char *const capabilities_keys[] = {"items", NULL};
static const char *const load_keys[] = {"runtime", "entrypoint", "library", "symbol", NULL};
static const char *const source_keys[] = {"manifest_root", "artifact", NULL};
static const char *const integrity_keys[] = {"sha256", "signature", NULL};

static const nr_mf_table_schema schema[] = {
    {"manifest_version", NULL},
    {"description", NULL},
    {"plugin", plugin_keys},
    {"compat", compat_keys},
    {"defaults", defaults_keys},
    {"capabilities", capabilities_keys},
    {"load", load_keys},
    {"source", source_keys},
    {"integrity", integrity_keys},
};
#define SCHEMA_LEN (sizeof schema / sizeof schema[0])

void nr_mf_warnings_clear(nr_mf_warnings *w)
{
    if (w == NULL)
        return;
    for (size_t i = 0; i < w->count; i++)
        free(w->items[i]);
    free(w->items);
    w->items = NULL;
    w->count = 0;
}

static char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

size_t nr_mf_name_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 64 || m > 64) /* names are short; a long one is never "close" */
        return (size_t)-1;
    size_t d[65][65];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
            size_t best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) && lower(a[i - 2]) == lower(b[j - 1])
                && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1; /* a transposition */
            d[i][j] = best;
        }
    }
    return d[n][m];
}

/* The known name that `name` most likely misspells, or NULL.  Close means
 * equal but for case, or at most 1 edit for a known name of up to 4
 * characters and at most 2 for a longer one. */
static const char *near_miss(const char *name, const char *const *known, size_t n_known)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < n_known; i++) {
        size_t allowed = strlen(known[i]) <= 4 ? 1 : 2;
        size_t dist = nr_mf_name_distance(name, known[i]);
        if (dist <= allowed && dist < best_d) {
            best = known[i];
            best_d = dist;
        }
    }
    return best;
}

static NemoRelayStatus add_warning(nr_mf_warnings *w, nr_error *err, const char *fmt, const char *a,
                                   const char *b)
{
    int len = snprintf(NULL, 0, fmt, a, b);
    char *text = len >= 0 ? malloc((size_t)len + 1) : NULL;
    char **grown = text != NULL ? realloc(w->items, (w->count + 1) * sizeof *w->items) : NULL;
    if (grown == NULL) {
        free(text);
        return nr_error_nomem(err);
    }
    snprintf(text, (size_t)len + 1, fmt, a, b);
    w->items = grown;
    w->items[w->count++] = text;
    return NEMO_RELAY_STATUS_OK;
}

/* A key of table `table` (NULL for the top level) that NeMo Relay does not
 * know: an error when it is close to a name valid here, or is an integrity
 * key outside [integrity]; a warning otherwise. */
static NemoRelayStatus unknown_key(const char *table, const cJSON *item, const char *const *known,
                                   size_t n_known, nr_mf_warnings *w, nr_error *err)
{
    const char *name = item->string;
    bool is_table = cJSON_IsObject(item);
    const char *guess = near_miss(name, known, n_known);
    if (guess != NULL) {
        if (table == NULL && is_table)
            return nr_error_set(err, NR_E_INVALID_CONFIG, "unknown table [%s]; did you mean [%s]?",
                                name, guess);
        if (table == NULL)
            return nr_error_set(err, NR_E_INVALID_CONFIG, "unknown key '%s'; did you mean '%s'?", name,
                                guess);
        return nr_error_set(err, NR_E_INVALID_CONFIG, "unknown key '%s' in [%s]; did you mean '%s'?",
                            name, table, guess);
    }
    if (table == NULL || strcmp(table, "integrity") != 0) {
        const char *misplaced = near_miss(name, integrity_keys, 2);
        if (misplaced != NULL)
            return nr_error_set(err, NR_E_INVALID_CONFIG,
                                "key '%s' %s%s%s is not read there; integrity.%s belongs in the "
                                "[integrity] table",
                                name, table != NULL ? "in [" : "at the top level", table != NULL ? table : "",
                                table != NULL ? "]" : "", misplaced);
    }
    if (table == NULL)
        return add_warning(w, err, is_table ? "unknown table [%s]%s is ignored" : "unknown key '%s'%s is ignored",
                           name, "");
    return add_warning(w, err, "unknown key '%s' in [%s] is ignored", name, table);
}

NemoRelayStatus nr_mf_check_names(const cJSON *root, nr_mf_warnings *warnings, nr_error *err)
{
    const char *top_names[SCHEMA_LEN];
    for (size_t i = 0; i < SCHEMA_LEN; i++)
        top_names[i] = schema[i].name;
    const cJSON *item = NULL;
    cJSON_ArrayForEach(item, root) {
        const nr_mf_table_schema *known = NULL;
        for (size_t i = 0; i < SCHEMA_LEN && known == NULL; i++) {
            if (strcmp(item->string, schema[i].name) == 0)
                known = &schema[i];
        }
        NemoRelayStatus st;
        if (known == NULL) {
            if ((st = unknown_key(NULL, item, top_names, SCHEMA_LEN, warnings, err)) != NEMO_RELAY_STATUS_OK)
                return st;
            continue;
        }
        if (known->keys == NULL || !cJSON_IsObject(item))
            continue; /* a plain key, or a wrong type the decoder reports */
        size_t n_keys = 0;
        while (known->keys[n_keys] != NULL)
            n_keys++;
        const cJSON *key = NULL;
        cJSON_ArrayForEach(key, item) {
            bool ok = false;
            for (size_t k = 0; k < n_keys && !ok; k++)
                ok = strcmp(key->string, known->keys[k]) == 0;
            if (!ok && (st = unknown_key(known->name, key, known->keys, n_keys, warnings, err))
                           != NEMO_RELAY_STATUS_OK)
                return st;
        }
    }
    return NEMO_RELAY_STATUS_OK;
}
