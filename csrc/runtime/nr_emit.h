/*
 * nr_emit.h -- delivering events to subscribers (SPEC D4).
 *
 * Delivery is synchronous and in order, on the emitting thread.  Each emission
 * takes its own snapshot of the subscribers (global, then scope-local ones
 * along the emitter's chain from root to top) and calls them with no lock
 * held, so a subscriber may emit, register or deregister from inside delivery.
 * With no subscriber registered no event is ever built.
 */
#ifndef NR_EMIT_H
#define NR_EMIT_H

#include "nr_event.h"

/* Whether an event emitted on this chain could reach anyone (cheap). */
bool nr_emit_wanted(void);

/* Delivers ev to the subscribers of chain_top (borrowed; may be NULL for
 * global subscribers only). */
void nr_emit(nr_event *ev, nr_scope *chain_top);

/* nr_emit, then releases ev (consumed; NULL, e.g. an event that could not be
 * built, emits nothing). */
void nr_emit_and_release(nr_event *ev, nr_scope *chain_top);

/* Asks every global subscriber that buffers (its record has a flush
 * function) to write out what it holds, on this thread, with no lock held.
 * Delivery itself is synchronous, so nothing else is pending. */
void nr_emit_flush(void);

#endif /* NR_EMIT_H */
