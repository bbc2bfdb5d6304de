/* nr_stream.c -- streams and the stream execution onion. */
#include "nr_stream.h"

#include <stdlib.h>

struct nr_stream {
    const nr_stream_ops *ops;
    void *ud;
    bool finished;
};

nr_stream *nr_stream_new(const nr_stream_ops *ops, void *ud, nr_error *err)
{
    nr_stream *s = malloc(sizeof *s);
    if (s == NULL) {
        if (ops->drop != NULL)
            ops->drop(ud);
        nr_error_nomem(err);
        return NULL;
    }
    s->ops = ops;
    s->ud = ud;
    s->finished = false;
    return s;
}

NemoRelayStatus nr_stream_poll(nr_stream *s, nr_value **chunk, nr_error *err)
{
    *chunk = NULL;
    if (s->finished)
        return NEMO_RELAY_STATUS_STREAM_END;
    NemoRelayStatus st = s->ops->poll(s->ud, chunk, err);
    if (st == NEMO_RELAY_STATUS_OK && *chunk == NULL)
        st = nr_error_set(err, NR_E_CALLBACK, "stream returned no chunk");
    if (st != NEMO_RELAY_STATUS_OK) {
        nr_value_release(*chunk);
        *chunk = NULL;
        s->finished = true;
    }
    return st;
}

void nr_stream_close(nr_stream *s)
{
    if (s == NULL)
        return;
    if (!s->finished && s->ops->cancel != NULL)
        s->ops->cancel(s->ud);
    if (s->ops->drop != NULL)
        s->ops->drop(s->ud);
    free(s);
}

/* ---- the onion ------------------------------------------------------------------ */

typedef struct stream_chain {
    nr_refcount refs;
    nr_call *call;                   /* strong: keeps the snapshot (and list) alive */
    const nr_mw_list *list;
    nr_stream_fn fn;
    void *fn_ud;
    void (*fn_release)(void *);
} stream_chain;

static void chain_release(stream_chain *ch)
{
    if (ch == NULL || !nr_ref_dec(&ch->refs))
        return;
    if (ch->fn_release != NULL)
        ch->fn_release(ch->fn_ud);
    nr_call_drop_snapshot(ch->call);
    nr_call_release(ch->call);
    free(ch);
}

/* The continuation handed to the intercept at index-1. */
typedef struct stream_next {
    stream_chain *chain; /* strong */
    size_t index;
} stream_next;

static NemoRelayStatus open_from(stream_chain *ch, size_t i, nr_value *request, nr_stream **out,
                                 nr_error *err);

static NemoRelayStatus next_thunk(void *ctx, nr_value *request, nr_stream **out, nr_error *err)
{
    stream_next *nx = ctx;
    if (request == NULL || out == NULL)
        return nr_error_set(err, NR_E_INVALID_ARG, "stream next received a null pointer");
    return open_from(nx->chain, nx->index, request, out, err);
}

/* A stream that owns the continuation its producer may still call. */
typedef struct owned_stream {
    nr_stream *inner;
    stream_next *next;
} owned_stream;

static NemoRelayStatus owned_poll(void *ud, nr_value **chunk, nr_error *err)
{
    return nr_stream_poll(((owned_stream *)ud)->inner, chunk, err);
}

static void owned_drop(void *ud)
{
    owned_stream *o = ud;
    nr_stream_close(o->inner);
    chain_release(o->next->chain);
    free(o->next);
    free(o);
}

/* no cancel: owned_drop's nr_stream_close cancels the inner stream if needed */
static const nr_stream_ops owned_ops = {owned_poll, NULL, owned_drop};

static NemoRelayStatus open_from(stream_chain *ch, size_t i, nr_value *request, nr_stream **out,
                                 nr_error *err)
{
    *out = NULL;
    nr_call_info info = *nr_call_info_of(ch->call);
    if (i >= ch->list->n) {
        NemoRelayStatus st = ch->fn(ch->fn_ud, &info, request, out, err);
        if (st == NEMO_RELAY_STATUS_OK && *out == NULL)
            st = nr_error_set(err, NR_E_CALLBACK, "the stream function returned no stream");
        return st;
    }
    nr_callback *cb = ch->list->items[i];
    stream_next *nx = malloc(sizeof *nx);
    if (nx == NULL)
        return nr_error_nomem(err);
    nr_ref_inc(&ch->refs);
    nx->chain = ch;
    nx->index = i + 1;
    nr_stream_next next = {next_thunk, nx};
    info.position = i;
    info.callback = cb;
    nr_stream *inner = NULL;
    NemoRelayStatus st = cb->fn.stream_execution(cb->user_data, &info, request, &next, &inner, err);
    if (st == NEMO_RELAY_STATUS_OK && inner == NULL)
        st = nr_error_set(err, NR_E_CALLBACK, "%s '%s' returned no stream",
                          nr_mw_kind_name(cb->kind), cb->name);
    if (st != NEMO_RELAY_STATUS_OK) {
        nr_stream_close(inner);
        chain_release(ch);
        free(nx);
        return st;
    }
    owned_stream *o = malloc(sizeof *o);
    if (o == NULL) {
        nr_stream_close(inner);
        chain_release(ch);
        free(nx);
        return nr_error_nomem(err);
    }
    o->inner = inner;
    o->next = nx;
    *out = nr_stream_new(&owned_ops, o, err);
    return *out != NULL ? NEMO_RELAY_STATUS_OK : nr_error_status(err);
}

NemoRelayStatus nr_call_open_stream(nr_call *c, size_t from, nr_value *request, nr_stream_fn fn,
                                    void *fn_ud, void (*fn_retain)(void *),
                                    void (*fn_release)(void *), nr_stream **out, nr_error *err)
{
    *out = NULL;
    if (!nr_call_hold_snapshot(c))
        return nr_error_set(err, NR_E_INVALID_ARG, "the call has already ended");
    stream_chain *ch = malloc(sizeof *ch);
    if (ch == NULL) {
        nr_call_drop_snapshot(c);
        return nr_error_nomem(err);
    }
    nr_ref_init(&ch->refs);
    ch->call = nr_call_ref(c);
    ch->list = nr_call_execution_list(c, true);
    ch->fn = fn;
    ch->fn_ud = fn_ud;
    ch->fn_release = fn_release;
    if (fn_retain != NULL)
        fn_retain(fn_ud);
    NemoRelayStatus st = open_from(ch, from, request, out, err);
    chain_release(ch);
    return st;
}
