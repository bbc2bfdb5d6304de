/*
 * nr_value.h -- an immutable, reference-counted JSON payload.
 *
 * A value is either a cJSON tree or a "foreign" object (a Python object, say)
 * that is converted to JSON only when something needs JSON (a native plugin,
 * an event).  The conversion happens at most once per value and is cached.
 * The runtime never looks inside a foreign object; the binding that made it
 * supplies the operations.
 *
 * Ownership: every function that returns an nr_value* returns a new reference
 * the caller must release with nr_value_release().  Values are immutable and
 * may be shared across threads.
 */
#ifndef NR_VALUE_H
#define NR_VALUE_H

#include "nr_error.h"

#include <cjson/cJSON.h>
#include <stddef.h>

typedef struct nr_value nr_value;

typedef struct nr_foreign_ops {
    /* Converts obj to a new cJSON tree the caller owns.  Called with no
     * runtime lock held, from any thread. */
    NemoRelayStatus (*to_json)(void *obj, cJSON **out, nr_error *err);
    /* Drops the value's reference to obj, from any thread. */
    void (*release)(void *obj);
} nr_foreign_ops;

/* Takes ownership of json (must not be NULL).  NULL on allocation failure, in
 * which case json has been deleted. */
nr_value *nr_value_from_json(cJSON *json);

/* Takes ownership of one reference to obj.  NULL on allocation failure, in
 * which case ops->release(obj) has been called. */
nr_value *nr_value_from_foreign(void *obj, const nr_foreign_ops *ops);

/* Parses JSON text (borrowed; need not be NUL-terminated) into a new value
 * ("what" names it in the error).  The value keeps a copy of the text as its
 * nr_value_text, so handing it on to another native callback prints nothing. */
NemoRelayStatus nr_value_parse(const char *text, size_t len, const char *what, nr_value **out,
                               nr_error *err);

/* Start metadata merged with end metadata (overlay's keys win, one level
 * deep); either may be NULL.  New reference; NULL when both are NULL or the
 * merge ran out of memory. */
nr_value *nr_value_merge_shallow(nr_value *base, nr_value *overlay);

/* A new JSON null value. */
nr_value *nr_value_new_null(void);

nr_value *nr_value_ref(nr_value *v);
void nr_value_release(nr_value *v); /* NULL-safe */

/* The value as JSON, converted on first use.  Borrowed: valid while the
 * caller holds its reference to v.  NULL with err set if conversion failed. */
const cJSON *nr_value_json(nr_value *v, nr_error *err);

/* The JSON tree if already available, without converting (may be NULL). */
const cJSON *nr_value_json_if_ready(const nr_value *v);

/* The foreign object if v was made from one with these ops, else NULL.
 * Borrowed. */
void *nr_value_foreign(const nr_value *v, const nr_foreign_ops *ops);

/* The value's JSON text: the text it was parsed from, else compact text
 * printed once and cached (borrowed: valid while the caller holds its
 * reference to v); *len its length.  NULL with err set. */
const char *nr_value_text(nr_value *v, size_t *len, nr_error *err);

#endif /* NR_VALUE_H */
