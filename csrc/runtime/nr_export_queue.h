/*
 * nr_export_queue.h -- the bounded event queue behind the exporters (SPEC D13).
 *
 * Registered as a subscriber, the queue keeps a reference to each event it is
 * handed (no copy, no Python, no I/O on the emitting thread) and a drain
 * thread takes them out in batches.  A full queue drops the event and counts
 * it; the emitter never waits.  "Idle" means nothing queued and every batch
 * taken out has been reported done, which is what a flush waits for.
 */
#ifndef NR_EXPORT_QUEUE_H
#define NR_EXPORT_QUEUE_H

#include "nr_event.h"

#include <stddef.h>
#include <stdint.h>

typedef struct nr_export_queue nr_export_queue;

/* A new, open queue holding at most capacity (>= 1) events, with one
 * reference for the caller; NULL on allocation failure. */
nr_export_queue *nr_export_queue_new(size_t capacity);
nr_export_queue *nr_export_queue_ref(nr_export_queue *q);
void nr_export_queue_release(nr_export_queue *q);

/* Subscriber registrations of the queue: take one (a reference plus a count)
 * before registering, with nr_export_queue_unregistered as the registry's
 * free_fn.  When close_when_unregistered was asked and the last registration
 * goes, the queue closes, so its drain thread finishes and stops (how an
 * exporter installed by a plugin configuration ends when it is cleared). */
void *nr_export_queue_registration(nr_export_queue *q);
void nr_export_queue_unregistered(void *q);
void nr_export_queue_set_close_when_unregistered(nr_export_queue *q, bool on);

/* The subscriber function (user_data is the queue): keeps a reference to ev
 * when there is room, else counts a drop.  Never blocks on the consumer. */
void nr_export_queue_push(void *q, nr_event *ev);

/* Moves up to max events into out (the caller owns those references),
 * waiting up to timeout_us (< 0: forever) for the first one.  Returns how
 * many were moved: 0 on timeout or once the queue is closed and empty.  The
 * moved events count as in flight until nr_export_queue_done. */
size_t nr_export_queue_pop(nr_export_queue *q, nr_event **out, size_t max, int64_t timeout_us);

/* Reports n events taken by pop as handled. */
void nr_export_queue_done(nr_export_queue *q, size_t n);

/* Waits until the queue is idle (nothing queued, nothing in flight), up to
 * timeout_us (< 0: forever).  Returns whether it became idle. */
bool nr_export_queue_wait_idle(nr_export_queue *q, int64_t timeout_us);

/* Stops accepting events (later pushes are ignored, not counted) and wakes
 * every waiter; what is queued can still be popped. */
void nr_export_queue_close(nr_export_queue *q);

typedef struct nr_export_queue_stats {
    size_t queued;        /* events waiting */
    size_t in_flight;     /* popped, not yet done */
    size_t capacity;
    uint64_t accepted;    /* events ever queued */
    uint64_t dropped;     /* events ever dropped because the queue was full */
    bool closed;
} nr_export_queue_stats;

void nr_export_queue_stats_get(nr_export_queue *q, nr_export_queue_stats *out);

/* Drops counted since the previous call (for one warning per burst). */
uint64_t nr_export_queue_take_new_drops(nr_export_queue *q);

#endif /* NR_EXPORT_QUEUE_H */
