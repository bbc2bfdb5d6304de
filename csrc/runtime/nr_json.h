/*
 * nr_json.h -- small helpers over cJSON (the JSON library of the runtime).
 *
 * Rules kept everywhere: parse with an explicit length, never use
 * cJSON_GetErrorPtr (process-global), look keys up case-sensitively, and check
 * every cJSON_AddItemTo* (on failure the item stays with the caller).
 */
#ifndef NR_JSON_H
#define NR_JSON_H

#include "nr_error.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* Parses exactly len bytes (trailing whitespace allowed).  Returns a new tree
 * the caller owns, or NULL with err set to NR_E_INVALID_JSON and the message
 * "<what> is not valid JSON: <detail>" (or to out of memory).  A number
 * literal a double would not print back as written (1.0, 2**53+1, 0.1+0.2's
 * 17 digits) keeps its text (plugins/common/exact_json.h). */
cJSON *nr_json_parse(const char *text, size_t len, const char *what, nr_error *err);

/* Compact JSON text; the caller frees it with free().  NULL on allocation
 * failure.  Numbers round-trip: a number's kept text as it is, any other
 * number as the shortest text that reads back as the same double. */
char *nr_json_print(const cJSON *item);

/* Deep copy (NULL in, NULL out); the caller owns the copy. */
cJSON *nr_json_dup(const cJSON *item);

/* Shallow merge for end-event metadata: the keys of overlay win over base.
 * If either side is not an object, overlay (if present) replaces base.
 * Returns a new tree (NULL when both are NULL); the caller owns it. */
cJSON *nr_json_merge_shallow(const cJSON *base, const cJSON *overlay);

/* Adds item under key, taking ownership in every case (deleted on failure).
 * Returns false on failure. */
bool nr_json_add(cJSON *object, const char *key, cJSON *item);

/* Case-sensitive member lookup (NULL if object is not an object). */
const cJSON *nr_json_get(const cJSON *object, const char *key);

#endif /* NR_JSON_H */
