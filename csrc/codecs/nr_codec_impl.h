/* nr_codec_impl.h -- what the provider codec files share (internal). */
#ifndef NR_CODEC_IMPL_H
#define NR_CODEC_IMPL_H

#include "nr_codec.h"
#include "nr_json.h"

#include <stddef.h>

typedef struct nr_codec_ops {
    const char *name;     /* class name */
    const char *label;    /* prefix of error messages ("OpenAI Chat request") */
    const char *provider; /* pricing provider */
    /* Keys decode copies verbatim into the annotated request, and encode
     * writes back verbatim when changed (NULL-terminated). */
    const char *const *passthrough;
    /* Request keys the codec models (not copied to extra; NULL-terminated). */
    const char *const *modeled;
    /* Annotated keys the codec derives itself and encodes in apply (NULL-
     * terminated; may be NULL). */
    const char *const *derived;
    cJSON *(*decode)(const cJSON *content, nr_error *err);
    /* Writes the fields `ann` changed relative to `ref` (= decode(original))
     * into out (a copy of the target).  false with err set. */
    bool (*apply)(const cJSON *ann, const cJSON *ref, const cJSON *original, cJSON *out,
                  nr_error *err);
    cJSON *(*decode_response)(const cJSON *response, nr_error *err);
} nr_codec_ops;

extern const nr_codec_ops nr_codec_openai_chat;
extern const nr_codec_ops nr_codec_openai_responses;
extern const nr_codec_ops nr_codec_anthropic_messages;

/* ---- helpers (nr_codec.c) ---------------------------------------------------- */

/* err <- NR_E_INVALID_JSON "<label>: <message>"; returns NULL/false-friendly 0. */
void nr_codec_bad(nr_error *err, const char *label, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Whether v is the string s. */
bool nr_codec_is_str(const cJSON *v, const char *s);

/* Appends item (taken in every case; NULL fails) to arr; false on failure. */
bool nr_codec_append(cJSON *arr, cJSON *item);

/* When ok, moves child under obj[key] and returns obj; otherwise, or if
 * that fails, deletes both and returns NULL.  Takes obj and child. */
cJSON *nr_codec_nest(cJSON *obj, bool ok, const char *key, cJSON *child);

/* ann[key] when it is present, not null and differs from ref[key]. */
const cJSON *nr_codec_changed(const cJSON *ann, const cJSON *ref, const char *key);

/* Adds dup(content[key]) under the same key when present and not null. */
bool nr_codec_copy(cJSON *dst, const cJSON *src, const char *key);
bool nr_codec_copy_as(cJSON *dst, const char *dst_key, const cJSON *src, const char *src_key);

/* Copies the passthrough keys and the unmodeled keys (extra) of content. */
bool nr_codec_copy_rest(const nr_codec_ops *ops, cJSON *ann, const cJSON *content);

/* Checks that content[key], if present and not null, has one of the types
 * (cJSON type bits); err names the field otherwise. */
bool nr_codec_check_type(const nr_codec_ops *ops, const cJSON *content, const char *key, int types,
                         const char *expected, nr_error *err);

/* The messages array of a request, required: an array of objects, each
 * with a string "role". */
const cJSON *nr_codec_messages(const nr_codec_ops *ops, const cJSON *content, const char *key,
                               nr_error *err);

/* "a\nb" of the text parts (type "text"/"input_text"/"output_text") of
 * content (a string or an array of parts); NULL if none (malloc'd). */
char *nr_codec_text_of(const cJSON *content);

/* JSON of a tool call's argument string, or the string itself. */
cJSON *nr_codec_parse_arguments(const char *text);

/* The FinishReason wire form: one of the known words, else {"unknown": s}. */
cJSON *nr_codec_finish_reason(const char *known_or_null, const char *raw);

/* A number item from a uint64-ish JSON number, or NULL. */
cJSON *nr_codec_count(const cJSON *n);

/* The usage object: the given counts (borrowed JSON numbers or NULL);
 * total_tokens is prompt + completion when not given.  Provider-reported
 * cost (raw_usage "cost_usd", or "cost" as a number or {total, currency})
 * becomes usage.cost with source "provider_reported".  NULL if nothing. */
cJSON *nr_codec_usage(const cJSON *raw_usage, const cJSON *prompt, const cJSON *completion,
                      const cJSON *total, const cJSON *cache_read, const cJSON *cache_write);

/* Adds dup(src[key]) to the api_specific object when present. */
bool nr_codec_add_extra(cJSON *ann, const cJSON *response, const char *const *known);

/* params {temperature, max_tokens, top_p, stop} from a request: max_tokens
 * from max_key_a, else max_key_b (may be NULL); stop from stop_key (a string
 * becomes a one-element list).  Added only when one is present. */
bool nr_codec_decode_params(cJSON *ann, const cJSON *content, const char *max_key_a,
                            const char *max_key_b, const char *stop_key);
/* Writes the params that changed; max_tokens goes to max_key_b when the
 * original used only that key, else to max_key_a. */
bool nr_codec_apply_params(const cJSON *ann, const cJSON *ref, const cJSON *original, cJSON *out,
                           const char *max_key_a, const char *max_key_b, const char *stop_key);

#endif /* NR_CODEC_IMPL_H */
