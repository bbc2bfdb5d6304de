/*
 * nr_codec.h -- the built-in LLM codecs (OpenAI Chat, OpenAI Responses,
 * Anthropic Messages): provider request bodies <-> the annotated request,
 * provider responses -> the annotated response.  Pure C on cJSON.
 *
 * The annotated request is a JSON object in NeMo Relay's wire form:
 *   {"messages": [...], "model"?, "params"? {temperature, max_tokens, top_p,
 *    stop}, "tools"? [{"type": "function", "function": {...}}],
 *    "tool_choice"?, the typed provider fields (store, user, metadata, ...),
 *    and every other top-level field of the request flattened in ("extra")}.
 * The annotated response: {"id"?, "model"?, "message"?, "tool_calls"?
 *   [{id, name, arguments}], "finish_reason"?, "usage"? {prompt_tokens,
 *   completion_tokens, total_tokens, cache_read_tokens, cache_write_tokens,
 *   cost?}, "api_specific"? {"api": ..., ...}, extra flattened}.
 *
 * Encoding never rebuilds a request: it starts from the request it is given
 * and writes only what the annotated request changed relative to what
 * decoding the original gives, so every field the codec does not model --
 * and every unchanged message, tool and part -- stays byte-for-byte as it
 * was.  Decode then encode with no edits returns the original unchanged.
 *
 * Ownership: every function returning cJSON* returns a new tree the caller
 * deletes; inputs are borrowed.  Errors are NR_E_INVALID_JSON (ValueError in
 * Python) with a message naming the offending field.
 */
#ifndef NR_CODEC_H
#define NR_CODEC_H

#include "nr_error.h"

#include <cjson/cJSON.h>
#include <stdbool.h>

typedef enum nr_codec_id {
    NR_CODEC_OPENAI_CHAT = 0,
    NR_CODEC_OPENAI_RESPONSES = 1,
    NR_CODEC_ANTHROPIC_MESSAGES = 2,
    NR_CODEC_COUNT
} nr_codec_id;

/* Whether a content part carries text ("text", "input_text", "output_text"). */
bool nr_codec_is_text_part(const cJSON *part);

/* The class name of a codec ("OpenAIChatCodec", ...). */
const char *nr_codec_name(nr_codec_id id);
/* The provider a codec's models are priced under ("openai", "anthropic"). */
const char *nr_codec_provider(nr_codec_id id);

/* Request content (a JSON object, borrowed) -> annotated request: a new tree
 * the caller frees, or NULL with err set. */
cJSON *nr_codec_decode(nr_codec_id id, const cJSON *content, nr_error *err);

/* The annotated request's edits relative to decode(original), applied to
 * target (usually original itself; the pipeline passes the request as the
 * request intercepts left it, so raw edits survive too).  Returns new
 * content. */
cJSON *nr_codec_encode(nr_codec_id id, const cJSON *annotated, const cJSON *original,
                       const cJSON *target, nr_error *err);

/* A provider response (a JSON object, borrowed) -> annotated response, with a
 * cost estimate when a pricing catalog matches: a new tree the caller frees,
 * or NULL with err set. */
cJSON *nr_codec_decode_response(nr_codec_id id, const cJSON *response, nr_error *err);

/* The codec whose provider format a request body / a response looks like
 * (as upstream detects it: Responses has "input" or "instructions",
 * Anthropic "system", Chat "messages"; a response must match exactly one
 * format), or -1. */
int nr_codec_detect_request(const cJSON *content);
int nr_codec_detect_response(const cJSON *response);

/* Checks that obj has the annotated request's shape (an object whose
 * "messages" is an array of objects, each with a string "role" or "type";
 * optional fields of the right JSON types).  false with err naming the
 * field. */
bool nr_annotated_request_check(const cJSON *obj, nr_error *err);

/* The top-level keys of the annotated request that are not "extra". */
bool nr_annotated_request_is_typed_key(const char *key);
/* Likewise for the annotated response. */
bool nr_annotated_response_is_typed_key(const char *key);

/* Whether key is one of keys (a NULL-terminated list). */
bool nr_codec_key_in(const char *key, const char *const *keys);

/* Sets obj[key] = item in place (keeping the key's position) or appends it.
 * Takes item in every case; false on failure. */
bool nr_codec_set(cJSON *obj, const char *key, cJSON *item);

/* ---- stream aggregation (nr_codec_stream.c) -------------------------------- */

typedef struct nr_stream_agg nr_stream_agg;

/* A new aggregator for a codec's streaming chunks (NULL on allocation
 * failure); freed with nr_stream_agg_free.  Not thread-safe: one stream. */
nr_stream_agg *nr_stream_agg_new(nr_codec_id id);
void nr_stream_agg_free(nr_stream_agg *agg); /* NULL-safe */
/* Folds one chunk (borrowed) in; chunks it does not recognise are ignored. */
void nr_stream_agg_observe(nr_stream_agg *agg, const cJSON *chunk);
/* Whether any chunk was recognised. */
bool nr_stream_agg_seen(const nr_stream_agg *agg);
/* The aggregated response in the provider's non-streaming shape (new tree,
 * NULL on allocation failure); the aggregator can keep observing. */
cJSON *nr_stream_agg_result(const nr_stream_agg *agg);

#endif /* NR_CODEC_H */
