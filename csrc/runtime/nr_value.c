/* nr_value.c -- immutable JSON payloads with a lazily converted foreign form. */
#include "nr_value.h"

#include "nr_json.h"
#include "nr_sync.h"

#include <stdatomic.h>

#include <stdlib.h>
#include <string.h>

struct nr_value {
    nr_refcount refs;
    _Atomic(cJSON *) json;       /* owned; set at creation or on first use */
    _Atomic(char *) text;        /* owned (cJSON_malloc): parsed from, or printed on first use */
    atomic_size_t text_len;      /* stored before `text` is published */
    void *foreign;               /* owned reference, or NULL */
    const nr_foreign_ops *ops;   /* operations for foreign */
};

nr_value *nr_value_from_json(cJSON *json)
{
    nr_value *v = malloc(sizeof *v);
    if (v == NULL) {
        cJSON_Delete(json);
        return NULL;
    }
    nr_ref_init(&v->refs);
    atomic_init(&v->json, json);
    atomic_init(&v->text, NULL);
    atomic_init(&v->text_len, 0);
    v->foreign = NULL;
    v->ops = NULL;
    return v;
}

nr_value *nr_value_from_foreign(void *obj, const nr_foreign_ops *ops)
{
    nr_value *v = malloc(sizeof *v);
    if (v == NULL) {
        ops->release(obj);
        return NULL;
    }
    nr_ref_init(&v->refs);
    atomic_init(&v->json, NULL);
    atomic_init(&v->text, NULL);
    atomic_init(&v->text_len, 0);
    v->foreign = obj;
    v->ops = ops;
    return v;
}

nr_value *nr_value_new_null(void)
{
    cJSON *j = cJSON_CreateNull();
    return j == NULL ? NULL : nr_value_from_json(j);
}

NemoRelayStatus nr_value_parse(const char *text, size_t len, const char *what, nr_value **out,
                               nr_error *err)
{
    *out = NULL;
    cJSON *j = nr_json_parse(text, len, what, err);
    if (j == NULL)
        return err != NULL ? err->status : NEMO_RELAY_STATUS_INVALID_JSON;
    /* keep the text: a native consumer would otherwise print it again */
    char *copy = cJSON_malloc(len + 1);
    nr_value *v = copy != NULL ? nr_value_from_json(j) : NULL;
    if (v == NULL) {
        if (copy == NULL)
            cJSON_Delete(j);
        cJSON_free(copy);
        return nr_error_nomem(err);
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    atomic_store_explicit(&v->text_len, len, memory_order_relaxed);
    atomic_store_explicit(&v->text, copy, memory_order_release);
    *out = v;
    return NEMO_RELAY_STATUS_OK;
}

nr_value *nr_value_merge_shallow(nr_value *base, nr_value *overlay)
{
    if (base == NULL || overlay == NULL)
        return nr_value_ref(overlay != NULL ? overlay : base);
    cJSON *m = nr_json_merge_shallow(nr_value_json(base, NULL), nr_value_json(overlay, NULL));
    return m != NULL ? nr_value_from_json(m) : NULL;
}

nr_value *nr_value_ref(nr_value *v)
{
    if (v != NULL)
        nr_ref_inc(&v->refs);
    return v;
}

void nr_value_release(nr_value *v)
{
    if (v == NULL || !nr_ref_dec(&v->refs))
        return;
    cJSON_Delete(atomic_load(&v->json));
    cJSON_free(atomic_load(&v->text));
    if (v->foreign != NULL)
        v->ops->release(v->foreign);
    free(v);
}

const cJSON *nr_value_json(nr_value *v, nr_error *err)
{
    cJSON *j = atomic_load_explicit(&v->json, memory_order_acquire);
    if (j != NULL)
        return j;
    cJSON *made = NULL;
    if (v->ops->to_json(v->foreign, &made, err) != NEMO_RELAY_STATUS_OK)
        return NULL;
    /* Two threads may convert at once; the first to publish wins. */
    cJSON *expected = NULL;
    if (!atomic_compare_exchange_strong(&v->json, &expected, made)) {
        cJSON_Delete(made);
        return expected;
    }
    return made;
}

const cJSON *nr_value_json_if_ready(const nr_value *v)
{
    return atomic_load_explicit(&((nr_value *)v)->json, memory_order_acquire);
}

void *nr_value_foreign(const nr_value *v, const nr_foreign_ops *ops)
{
    return (v != NULL && v->ops == ops) ? v->foreign : NULL;
}

const char *nr_value_text(nr_value *v, size_t *len, nr_error *err)
{
    char *text = atomic_load_explicit(&v->text, memory_order_acquire);
    if (text == NULL) {
        const cJSON *j = nr_value_json(v, err);
        char *made = j != NULL ? nr_json_print(j) : NULL;
        if (made == NULL) {
            if (j != NULL)
                nr_error_nomem(err);
            return NULL;
        }
        /* Threads racing here print the same tree, so whichever length is
         * stored last is right; the first text published wins. */
        atomic_store_explicit(&v->text_len, strlen(made), memory_order_relaxed);
        if (atomic_compare_exchange_strong_explicit(&v->text, &text, made, memory_order_acq_rel,
                                                    memory_order_acquire))
            text = made;
        else
            cJSON_free(made);
    }
    *len = atomic_load_explicit(&v->text_len, memory_order_relaxed);
    return text;
}
