/* nr_export_queue.c -- a bounded ring of event references with one lock. */
#include "nr_export_queue.h"

#include "nr_sync.h"

#include <errno.h>
#include <time.h>

struct nr_export_queue {
    nr_refcount refs;
    pthread_mutex_t mu;
    pthread_cond_t nonempty; /* signalled on push and close */
    pthread_cond_t idle;     /* broadcast when queued + in_flight reaches 0 */
    nr_event **ring;         /* owned references in [head, head + count) */
    size_t capacity, head, count, in_flight;
    uint64_t accepted, dropped, dropped_reported;
    size_t registrations;
    bool close_when_unregistered;
    bool closed;
};

nr_export_queue *nr_export_queue_new(size_t capacity)
{
    if (capacity == 0)
        return NULL;
    nr_export_queue *q = calloc(1, sizeof *q);
    if (q == NULL)
        return NULL;
    q->ring = calloc(capacity, sizeof *q->ring);
    pthread_condattr_t attr;
    bool attr_ok = pthread_condattr_init(&attr) == 0;
    /* monotonic deadlines: a clock change must not stretch a flush */
    if (q->ring == NULL || !attr_ok || pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
        pthread_mutex_init(&q->mu, NULL) != 0) {
        if (attr_ok)
            pthread_condattr_destroy(&attr);
        free(q->ring);
        free(q);
        return NULL;
    }
    if (pthread_cond_init(&q->nonempty, &attr) != 0) {
        pthread_condattr_destroy(&attr);
        pthread_mutex_destroy(&q->mu);
        free(q->ring);
        free(q);
        return NULL;
    }
    if (pthread_cond_init(&q->idle, &attr) != 0) {
        pthread_condattr_destroy(&attr);
        pthread_cond_destroy(&q->nonempty);
        pthread_mutex_destroy(&q->mu);
        free(q->ring);
        free(q);
        return NULL;
    }
    pthread_condattr_destroy(&attr);
    nr_ref_init(&q->refs);
    q->capacity = capacity;
    return q;
}

nr_export_queue *nr_export_queue_ref(nr_export_queue *q)
{
    nr_ref_inc(&q->refs);
    return q;
}

void nr_export_queue_release(nr_export_queue *q)
{
    if (q == NULL || !nr_ref_dec(&q->refs))
        return;
    for (size_t i = 0; i < q->count; i++)
        nr_event_release(q->ring[(q->head + i) % q->capacity]);
    pthread_cond_destroy(&q->idle);
    pthread_cond_destroy(&q->nonempty);
    pthread_mutex_destroy(&q->mu);
    free(q->ring);
    free(q);
}

void *nr_export_queue_registration(nr_export_queue *q)
{
    nr_lock(&q->mu);
    q->registrations++;
    nr_unlock(&q->mu);
    return nr_export_queue_ref(q);
}

void nr_export_queue_unregistered(void *ud)
{
    nr_export_queue *q = ud;
    nr_lock(&q->mu);
    if (q->registrations > 0 && --q->registrations == 0 && q->close_when_unregistered) {
        q->closed = true;
        pthread_cond_broadcast(&q->nonempty);
        pthread_cond_broadcast(&q->idle);
    }
    nr_unlock(&q->mu);
    nr_export_queue_release(q);
}

void nr_export_queue_set_close_when_unregistered(nr_export_queue *q, bool on)
{
    nr_lock(&q->mu);
    q->close_when_unregistered = on;
    nr_unlock(&q->mu);
}

void nr_export_queue_push(void *ud, nr_event *ev)
{
    nr_export_queue *q = ud;
    nr_lock(&q->mu);
    if (!q->closed) {
        if (q->count == q->capacity) {
            q->dropped++;
        } else {
            q->ring[(q->head + q->count) % q->capacity] = nr_event_ref(ev);
            q->count++;
            q->accepted++;
            pthread_cond_signal(&q->nonempty);
        }
    }
    nr_unlock(&q->mu);
}

/* The absolute CLOCK_MONOTONIC time timeout_us from now. */
static struct timespec deadline_after(int64_t timeout_us)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(timeout_us / 1000000);
    ts.tv_nsec += (long)(timeout_us % 1000000) * 1000;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Waits on cond until woken or the deadline (NULL: none); false on timeout. */
static bool wait_until(pthread_cond_t *cond, pthread_mutex_t *mu, const struct timespec *deadline)
{
    if (deadline == NULL) {
        pthread_cond_wait(cond, mu);
        return true;
    }
    return pthread_cond_timedwait(cond, mu, deadline) != ETIMEDOUT;
}

size_t nr_export_queue_pop(nr_export_queue *q, nr_event **out, size_t max, int64_t timeout_us)
{
    struct timespec deadline;
    if (timeout_us >= 0)
        deadline = deadline_after(timeout_us);
    nr_lock(&q->mu);
    while (q->count == 0 && !q->closed) {
        if (!wait_until(&q->nonempty, &q->mu, timeout_us >= 0 ? &deadline : NULL))
            break;
    }
    size_t n = q->count < max ? q->count : max;
    for (size_t i = 0; i < n; i++) {
        out[i] = q->ring[q->head];
        q->ring[q->head] = NULL;
        q->head = (q->head + 1) % q->capacity;
    }
    q->count -= n;
    q->in_flight += n;
    nr_unlock(&q->mu);
    return n;
}

void nr_export_queue_done(nr_export_queue *q, size_t n)
{
    nr_lock(&q->mu);
    q->in_flight = n > q->in_flight ? 0 : q->in_flight - n;
    if (q->count == 0 && q->in_flight == 0)
        pthread_cond_broadcast(&q->idle);
    nr_unlock(&q->mu);
}

bool nr_export_queue_wait_idle(nr_export_queue *q, int64_t timeout_us)
{
    struct timespec deadline;
    if (timeout_us >= 0)
        deadline = deadline_after(timeout_us);
    nr_lock(&q->mu);
    bool idle;
    for (;;) {
        idle = q->count == 0 && q->in_flight == 0;
        if (idle || !wait_until(&q->idle, &q->mu, timeout_us >= 0 ? &deadline : NULL))
            break;
    }
    idle = q->count == 0 && q->in_flight == 0;
    nr_unlock(&q->mu);
    return idle;
}

void nr_export_queue_close(nr_export_queue *q)
{
    nr_lock(&q->mu);
    q->closed = true;
    pthread_cond_broadcast(&q->nonempty);
    pthread_cond_broadcast(&q->idle);
    nr_unlock(&q->mu);
}

void nr_export_queue_stats_get(nr_export_queue *q, nr_export_queue_stats *out)
{
    nr_lock(&q->mu);
    out->queued = q->count;
    out->in_flight = q->in_flight;
    out->capacity = q->capacity;
    out->accepted = q->accepted;
    out->dropped = q->dropped;
    out->closed = q->closed;
    nr_unlock(&q->mu);
}

uint64_t nr_export_queue_take_new_drops(nr_export_queue *q)
{
    nr_lock(&q->mu);
    uint64_t n = q->dropped - q->dropped_reported;
    q->dropped_reported = q->dropped;
    nr_unlock(&q->mu);
    return n;
}
