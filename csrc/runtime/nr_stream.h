/*
 * nr_stream.h -- streams of JSON chunks (LLM streaming), and the stream
 * execution onion.
 *
 * A stream is a producer behind three operations, mirroring the native ABI's
 * stream table: poll (a chunk, the end, or a failure), cancel (the consumer
 * gives up early) and drop (always, exactly once).  After the end or a
 * failure further polls report the end without calling the producer.
 *
 * Ownership: nr_stream_new takes ownership of ud (drop is called even if the
 * stream cannot be allocated); the stream belongs to whoever holds the
 * pointer, who must nr_stream_close it.
 */
#ifndef NR_STREAM_H
#define NR_STREAM_H

#include "nr_call.h"

typedef struct nr_stream_ops {
    /* OK with a new *chunk, NEMO_RELAY_STATUS_STREAM_END, or a failure */
    NemoRelayStatus (*poll)(void *ud, nr_value **chunk, nr_error *err);
    void (*cancel)(void *ud); /* optional */
    void (*drop)(void *ud);   /* optional */
} nr_stream_ops;

typedef struct nr_stream nr_stream;

nr_stream *nr_stream_new(const nr_stream_ops *ops, void *ud, nr_error *err);

/* The next chunk (OK), STREAM_END, or a failure (the stream is then over). */
NemoRelayStatus nr_stream_poll(nr_stream *s, nr_value **chunk, nr_error *err);

/* Cancels an unfinished stream, drops it and frees it.  NULL-safe. */
void nr_stream_close(nr_stream *s);

/* The innermost function of a stream chain: opens the caller's stream. */
typedef NemoRelayStatus (*nr_stream_fn)(void *ud, const nr_call_info *ci, nr_value *request,
                                        nr_stream **out, nr_error *err);

/* Opens the stream of the chain from index `from`: each stream execution
 * intercept receives a `next` that opens the rest; the continuation stays
 * valid for as long as the stream the intercept returns.  fn_ud is retained
 * with fn_retain/fn_release (may be NULL) for the life of the chain. */
NemoRelayStatus nr_call_open_stream(nr_call *c, size_t from, nr_value *request, nr_stream_fn fn,
                                    void *fn_ud, void (*fn_retain)(void *),
                                    void (*fn_release)(void *), nr_stream **out, nr_error *err);

#endif /* NR_STREAM_H */
