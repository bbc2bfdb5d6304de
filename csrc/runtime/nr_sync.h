/*
 * nr_sync.h -- reference counts and locks used across the runtime.
 *
 * Reference counts are C11 atomics.  Locks are pthread mutexes wrapped so a
 * failure to lock (which only happens on programming errors) aborts loudly
 * instead of silently corrupting state.
 */
#ifndef NR_SYNC_H
#define NR_SYNC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

typedef atomic_long nr_refcount;

static inline void nr_ref_init(nr_refcount *rc) { atomic_init(rc, 1); }

static inline void nr_ref_inc(nr_refcount *rc)
{
    atomic_fetch_add_explicit(rc, 1, memory_order_relaxed);
}

/* Returns true when the count dropped to zero (the caller frees). */
static inline bool nr_ref_dec(nr_refcount *rc)
{
    if (atomic_fetch_sub_explicit(rc, 1, memory_order_release) == 1) {
        atomic_thread_fence(memory_order_acquire);
        return true;
    }
    return false;
}


static inline void nr_lock(pthread_mutex_t *m)
{
    if (pthread_mutex_lock(m) != 0) {
        fputs("nemo_relay: pthread_mutex_lock failed\n", stderr);
        abort();
    }
}

static inline void nr_unlock(pthread_mutex_t *m)
{
    if (pthread_mutex_unlock(m) != 0) {
        fputs("nemo_relay: pthread_mutex_unlock failed\n", stderr);
        abort();
    }
}

#endif /* NR_SYNC_H */
