/* nr_emit.c -- synchronous subscriber delivery. */
#include "nr_emit.h"

#include "nr_registry.h"

bool nr_emit_wanted(void)
{
    return nr_registry_count(NR_MW_SUBSCRIBER) > 0;
}

void nr_emit(nr_event *ev, nr_scope *chain_top)
{
    nr_snapshot snap;
    nr_snapshot_take(&snap, chain_top, NR_MW_BIT(NR_MW_SUBSCRIBER));
    const nr_mw_list *subs = nr_snapshot_list(&snap, NR_MW_SUBSCRIBER);
    for (size_t i = 0; i < subs->n; i++)
        subs->items[i]->fn.subscriber(subs->items[i]->user_data, ev);
    nr_snapshot_release(&snap);
}

void nr_emit_and_release(nr_event *ev, nr_scope *chain_top)
{
    if (ev != NULL) {
        nr_emit(ev, chain_top);
        nr_event_release(ev);
    }
}

void nr_emit_flush(void)
{
    nr_snapshot snap;
    nr_snapshot_take(&snap, NULL, NR_MW_BIT(NR_MW_SUBSCRIBER));
    const nr_mw_list *subs = nr_snapshot_list(&snap, NR_MW_SUBSCRIBER);
    for (size_t i = 0; i < subs->n; i++)
        if (subs->items[i]->flush != NULL)
            subs->items[i]->flush(subs->items[i]->user_data);
    nr_snapshot_release(&snap);
}
