/* nr_json.c -- cJSON helpers: bounded parse, print, merge. */
#include "nr_json.h"

#include "exact_json.h" /* plugins/common: numbers that round-trip */

#include <stdlib.h>
#include <string.h>

cJSON *nr_json_parse(const char *text, size_t len, const char *what, nr_error *err)
{
    const char *end = NULL;
    cJSON *item = NULL;
    if (text == NULL || len == 0) {
        nr_error_set(err, NR_E_INVALID_JSON, "%s is not valid JSON: empty input", what);
        return NULL;
    }
    item = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (item == NULL) {
        size_t pos = (end != NULL && end >= text) ? (size_t)(end - text) : 0;
        nr_error_set(err, NR_E_INVALID_JSON, "%s is not valid JSON: syntax error at byte %zu",
                     what, pos);
        return NULL;
    }
    /* cJSON stops after the first value; anything but whitespace after it is
     * an error, as in every strict JSON parser. */
    const char *limit = text + len;
    for (const char *p = end; p != NULL && p < limit; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cJSON_Delete(item);
            nr_error_set(err, NR_E_INVALID_JSON,
                         "%s is not valid JSON: trailing characters at byte %zu", what,
                         (size_t)(p - text));
            return NULL;
        }
    }
    if (!ej_keep_number_texts(item, text, (size_t)(end - text))) {
        cJSON_Delete(item);
        nr_error_nomem(err);
        return NULL;
    }
    return item;
}

char *nr_json_print(const cJSON *item)
{
    return ej_print(item);
}

cJSON *nr_json_dup(const cJSON *item)
{
    return item == NULL ? NULL : cJSON_Duplicate(item, true);
}

bool nr_json_add(cJSON *object, const char *key, cJSON *item)
{
    if (item == NULL)
        return false;
    if (object == NULL || !cJSON_AddItemToObject(object, key, item)) {
        cJSON_Delete(item);
        return false;
    }
    return true;
}

const cJSON *nr_json_get(const cJSON *object, const char *key)
{
    if (!cJSON_IsObject(object))
        return NULL;
    return cJSON_GetObjectItemCaseSensitive(object, key);
}

cJSON *nr_json_merge_shallow(const cJSON *base, const cJSON *overlay)
{
    if (overlay == NULL)
        return nr_json_dup(base);
    if (base == NULL || !cJSON_IsObject(base) || !cJSON_IsObject(overlay))
        return nr_json_dup(overlay);
    cJSON *out = nr_json_dup(base);
    if (out == NULL)
        return NULL;
    for (const cJSON *it = overlay->child; it != NULL; it = it->next) {
        cJSON *copy = cJSON_Duplicate(it, true);
        if (copy == NULL)
            goto fail;
        if (cJSON_GetObjectItemCaseSensitive(out, it->string) != NULL) {
            if (!cJSON_ReplaceItemInObjectCaseSensitive(out, it->string, copy)) {
                cJSON_Delete(copy);
                goto fail;
            }
        } else if (!nr_json_add(out, it->string, copy)) {
            goto fail;
        }
    }
    return out;
fail:
    cJSON_Delete(out);
    return NULL;
}
