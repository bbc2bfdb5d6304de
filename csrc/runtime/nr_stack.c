/* nr_stack.c -- stack cells and the per-thread visibility tiers. */
#include "nr_stack.h"

#include <stdlib.h>

/* Guards the `top` of every shared stack cell.  One lock for all cells: the
 * critical sections are a few pointer moves, and a single lock can be held
 * across fork() (see nr_stack_fork_*), which per-cell locks could not. */
static pthread_mutex_t g_cells_lock = PTHREAD_MUTEX_INITIALIZER;

nr_stack *nr_stack_new_at(nr_scope *top, nr_error *err)
{
    nr_stack *s = malloc(sizeof *s);
    if (s == NULL) {
        nr_error_nomem(err);
        return NULL;
    }
    nr_ref_init(&s->refs);
    s->top = nr_scope_ref(top);
    return s;
}

nr_stack *nr_stack_new(nr_error *err)
{
    nr_scope *root = nr_scope_new_root(err);
    if (root == NULL)
        return NULL;
    nr_stack *s = nr_stack_new_at(root, err);
    nr_scope_release(root);
    return s;
}

nr_stack *nr_stack_ref(nr_stack *s)
{
    if (s != NULL)
        nr_ref_inc(&s->refs);
    return s;
}

void nr_stack_release(nr_stack *s)
{
    if (s == NULL || !nr_ref_dec(&s->refs))
        return;
    nr_scope_release(s->top);
    free(s);
}

nr_scope *nr_stack_top(nr_stack *s)
{
    nr_lock(&g_cells_lock);
    nr_scope *top = nr_scope_ref(s->top);
    nr_unlock(&g_cells_lock);
    return top;
}

/* ---- per-thread state ----------------------------------------------------
 * Only the owning thread reads or writes these, so they need no lock.  The
 * pthread key exists only to release the references when the thread exits. */

typedef struct thread_state {
    nr_stack *override; /* tier 1, strong */
    nr_frame *frame;    /* tier 2, borrowed from the binding's C stack */
    nr_stack *bound;    /* tier 3, strong */
    bool explicit_;
    bool registered;    /* exit destructor armed */
} thread_state;

static _Thread_local thread_state tls;
static pthread_key_t g_exit_key;
static pthread_once_t g_exit_key_once = PTHREAD_ONCE_INIT;

static void thread_exit(void *unused)
{
    (void)unused;
    nr_stack_release(tls.override);
    nr_stack_release(tls.bound);
    tls.override = NULL;
    tls.bound = NULL;
    tls.frame = NULL;
}

static void make_exit_key(void)
{
    pthread_key_create(&g_exit_key, thread_exit);
}

static void arm_thread_exit(void)
{
    if (!tls.registered) {
        pthread_once(&g_exit_key_once, make_exit_key);
        pthread_setspecific(g_exit_key, &tls); /* any non-NULL value arms it */
        tls.registered = true;
    }
}

nr_frame *nr_frame_install(nr_frame *f)
{
    nr_frame *prev = tls.frame;
    tls.frame = f;
    return prev;
}

void nr_frame_restore(nr_frame *previous)
{
    tls.frame = previous;
}

NemoRelayStatus nr_stack_with_current(nr_stack *stack, NemoRelayStatus (*cb)(void *),
                                      void *user_data)
{
    nr_stack *prev = tls.override;
    tls.override = nr_stack_ref(stack);
    arm_thread_exit();
    NemoRelayStatus st = cb(user_data);
    nr_stack_release(tls.override);
    tls.override = prev;
    return st;
}

void nr_thread_bind(nr_stack *stack)
{
    nr_stack *old = tls.bound;
    tls.bound = nr_stack_ref(stack);
    tls.explicit_ = true;
    arm_thread_exit();
    nr_stack_release(old);
}

nr_binding nr_thread_capture(void)
{
    nr_binding b = {nr_stack_ref(tls.bound), tls.explicit_};
    return b;
}

void nr_thread_restore(nr_binding *b)
{
    nr_stack *old = tls.bound;
    tls.bound = b->stack; /* the binding's reference moves to the thread */
    tls.explicit_ = b->explicit_;
    b->stack = NULL;
    if (tls.bound != NULL)
        arm_thread_exit();
    nr_stack_release(old);
}

void nr_binding_clear(nr_binding *b)
{
    nr_stack_release(b->stack);
    b->stack = NULL;
}

void nr_visibility_suspend(nr_suspended *saved)
{
    saved->override = tls.override;
    saved->frame = tls.frame;
    tls.override = NULL;
    tls.frame = NULL;
}

void nr_visibility_resume(nr_suspended *saved)
{
    /* Anything installed meanwhile was restored by its own scope. */
    tls.override = saved->override;
    tls.frame = saved->frame;
}

/* Tier 3, creating the thread's default stack on first use. */
static nr_stack *thread_stack(nr_error *err)
{
    if (tls.bound == NULL) {
        tls.bound = nr_stack_new(err);
        tls.explicit_ = false;
        if (tls.bound == NULL)
            return NULL;
        arm_thread_exit();
    }
    return tls.bound;
}

nr_scope *nr_visible_top(nr_error *err)
{
    if (tls.override != NULL)
        return nr_stack_top(tls.override);
    if (tls.frame != NULL)
        return nr_scope_ref(tls.frame->top);
    nr_stack *s = thread_stack(err);
    return s == NULL ? NULL : nr_stack_top(s);
}

bool nr_visible_active(void)
{
    return tls.override != NULL || tls.frame != NULL || (tls.bound != NULL && tls.explicit_);
}

bool nr_thread_explicit(void)
{
    return tls.bound != NULL && tls.explicit_;
}

nr_scope *nr_thread_explicit_top(void)
{
    return nr_thread_explicit() ? nr_stack_top(tls.bound) : NULL;
}

/* Runs op on the visible cell: the frame without locking (thread-confined),
 * a shared stack under its lock. */
typedef NemoRelayStatus (*cell_op)(nr_scope **top, void *arg, nr_error *err);

static NemoRelayStatus with_visible_cell(cell_op op, void *arg, nr_error *err)
{
    nr_stack *s = tls.override;
    if (s == NULL && tls.frame != NULL)
        return op(&tls.frame->top, arg, err);
    if (s == NULL && (s = thread_stack(err)) == NULL)
        return nr_error_status(err);
    nr_lock(&g_cells_lock);
    NemoRelayStatus st = op(&s->top, arg, err);
    nr_unlock(&g_cells_lock);
    return st;
}

typedef struct push_arg {
    nr_scope_init *init;
    nr_scope *made;
} push_arg;

static NemoRelayStatus push_op(nr_scope **top, void *arg, nr_error *err)
{
    push_arg *pa = arg;
    pa->init->below = *top;
    if (pa->init->parent == NULL)
        pa->init->parent = &(*top)->uuid;
    nr_scope *node = nr_scope_new(pa->init, err);
    pa->init->below = NULL;
    if (node == NULL)
        return nr_error_status(err);
    /* The new node took its own reference to the old top. */
    nr_scope_release(*top);
    *top = node;
    pa->made = nr_scope_ref(node);
    return NEMO_RELAY_STATUS_OK;
}

nr_scope *nr_visible_push(nr_scope_init *init, nr_error *err)
{
    /* parent points into the old top while the cell is locked, so copy the
     * caller's choice and restore it afterwards. */
    const nr_uuid *caller_parent = init->parent;
    push_arg pa = {init, NULL};
    with_visible_cell(push_op, &pa, err);
    init->parent = caller_parent;
    return pa.made;
}

typedef struct pop_arg {
    const nr_uuid *uuid;
    nr_scope *popped;
} pop_arg;

static NemoRelayStatus pop_op(nr_scope **top, void *arg, nr_error *err)
{
    pop_arg *pa = arg;
    nr_scope *found = nr_chain_find(*top, pa->uuid);
    if (found == NULL)
        return nr_error_set(err, NR_E_SCOPE_NOT_FOUND, "scope handle not found");
    if (found->is_root)
        return nr_error_set(err, NR_E_SCOPE_ROOT, "root scope cannot be removed");
    bool ended = atomic_load(&found->popped);
    if (found != *top && !ended)
        return nr_error_set(err, NR_E_NOT_ON_TOP, "scope handle is not at the top of the stack");
    /* A scope ends once: the first pop (on any chain that shares the node)
     * claims it.  A later pop on another chain only unlinks the node from
     * that chain when it is on top, so the chain does not keep a dead scope. */
    if (ended || atomic_exchange(&found->popped, true)) {
        char id[NR_UUID_STR_LEN];
        nr_uuid_format(pa->uuid, id);
        if (found == *top) {
            pa->popped = *top;
            *top = nr_scope_ref(found->below);
        }
        return nr_error_set(err, NR_E_SCOPE_NOT_FOUND, "scope %s has already ended", id);
    }
    /* The cell's reference to the popped node goes to the caller; the cell
     * takes a reference to the node below. */
    pa->popped = *top;
    *top = nr_scope_ref(found->below);
    return NEMO_RELAY_STATUS_OK;
}

NemoRelayStatus nr_visible_pop(const nr_uuid *u, nr_scope **out, nr_error *err)
{
    pop_arg pa = {u, NULL};
    NemoRelayStatus st = with_visible_cell(pop_op, &pa, err);
    *out = pa.popped;
    return st;
}

void nr_stack_fork_prepare(void) { nr_lock(&g_cells_lock); }
void nr_stack_fork_parent(void) { nr_unlock(&g_cells_lock); }
void nr_stack_fork_child(void) { pthread_mutex_init(&g_cells_lock, NULL); }
