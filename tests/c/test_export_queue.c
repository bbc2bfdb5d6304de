/* test_export_queue.c -- the exporters' bounded queue, without Python. */
#include "nr_test.h"

#include "nr_export_queue.h"
#include "nr_runtime.h"

#include <pthread.h>

static nr_event *mark(const char *name)
{
    nr_error err = NR_ERROR_INIT;
    nr_event *ev = nr_event_new_mark(name, NULL, 0, NULL, NULL, &err);
    CHECK(ev != NULL);
    nr_error_clear(&err);
    return ev;
}

static void push_mark(nr_export_queue *q, const char *name)
{
    nr_event *ev = mark(name);
    nr_export_queue_push(q, ev); /* the queue takes its own reference */
    nr_event_release(ev);
}

static void test_fifo_drop_and_idle(void)
{
    nr_export_queue *q = nr_export_queue_new(2);
    CHECK(nr_export_queue_new(0) == NULL);
    push_mark(q, "a");
    push_mark(q, "b");
    push_mark(q, "c"); /* full: dropped, counted */
    nr_export_queue_stats s;
    nr_export_queue_stats_get(q, &s);
    CHECK_EQ_INT(s.queued, 2);
    CHECK_EQ_INT(s.accepted, 2);
    CHECK_EQ_INT(s.dropped, 1);
    CHECK_EQ_INT(nr_export_queue_take_new_drops(q), 1);
    CHECK_EQ_INT(nr_export_queue_take_new_drops(q), 0);

    nr_event *out[4];
    CHECK_EQ_INT(nr_export_queue_pop(q, out, 4, 0), 2);
    CHECK_STR(out[0]->name, "a");
    CHECK_STR(out[1]->name, "b");
    CHECK(!nr_export_queue_wait_idle(q, 0)); /* in flight until done */
    nr_export_queue_done(q, 2);
    CHECK(nr_export_queue_wait_idle(q, 0));
    nr_event_release(out[0]);
    nr_event_release(out[1]);
    CHECK_EQ_INT(nr_export_queue_pop(q, out, 4, 0), 0); /* empty: times out */

    push_mark(q, "left-behind"); /* released with the queue */
    nr_export_queue_close(q);
    push_mark(q, "after-close"); /* ignored, not counted */
    nr_export_queue_stats_get(q, &s);
    CHECK(s.closed);
    CHECK_EQ_INT(s.accepted, 3);
    CHECK_EQ_INT(s.dropped, 1);
    CHECK_EQ_INT(nr_export_queue_pop(q, out, 4, -1), 1); /* what was queued still comes out */
    nr_event_release(out[0]);
    nr_export_queue_done(q, 1);
    CHECK_EQ_INT(nr_export_queue_pop(q, out, 4, -1), 0); /* closed and empty: no wait */
    push_mark(q, "x");
    nr_export_queue_release(q);
}

static void test_close_when_unregistered(void)
{
    nr_export_queue *q = nr_export_queue_new(4);
    nr_export_queue_set_close_when_unregistered(q, true);
    void *r1 = nr_export_queue_registration(q);
    void *r2 = nr_export_queue_registration(q);
    nr_export_queue_stats s;
    nr_export_queue_unregistered(r1);
    nr_export_queue_stats_get(q, &s);
    CHECK(!s.closed);
    nr_export_queue_unregistered(r2);
    nr_export_queue_stats_get(q, &s);
    CHECK(s.closed);
    nr_export_queue_release(q);
}

typedef struct {
    nr_export_queue *q;
    int n;
} producer_arg;

static void *producer(void *p)
{
    producer_arg *a = p;
    nr_event *ev = mark("p");
    for (int i = 0; i < a->n; i++)
        nr_export_queue_push(a->q, ev);
    nr_event_release(ev);
    return NULL;
}

static void test_concurrent_producers(void)
{
    nr_export_queue *q = nr_export_queue_new(64);
    producer_arg a = {q, 20000};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&t[i], NULL, producer, &a) == 0);
    long consumed = 0;
    nr_event *out[16];
    bool joined = false;
    for (;;) {
        size_t n = nr_export_queue_pop(q, out, 16, joined ? 0 : 1000);
        for (size_t i = 0; i < n; i++)
            nr_event_release(out[i]);
        nr_export_queue_done(q, n);
        consumed += (long)n;
        if (!joined) {
            /* keep draining while the producers run; join once they are done */
            nr_export_queue_stats s;
            nr_export_queue_stats_get(q, &s);
            if (s.accepted + s.dropped == 40000) {
                for (int i = 0; i < 2; i++)
                    pthread_join(t[i], NULL);
                joined = true;
            }
        } else if (n == 0) {
            break;
        }
    }
    nr_export_queue_stats s;
    nr_export_queue_stats_get(q, &s);
    CHECK_EQ_INT(s.accepted + s.dropped, 40000);
    CHECK_EQ_INT(consumed, (long)s.accepted);
    CHECK(nr_export_queue_wait_idle(q, 0));
    nr_export_queue_release(q);
}

int main(void)
{
    nr_runtime_init();
    NR_RUN(test_fifo_drop_and_idle);
    NR_RUN(test_close_when_unregistered);
    NR_RUN(test_concurrent_producers);
    return NR_TEST_RESULT();
}
