/*
 * nr_stack.h -- scope stacks and which one is visible on a thread.
 *
 * A stack is a shared, locked cell holding the top of a scope chain.  Which
 * chain a runtime call works on (the "visible" one) is resolved per thread, in
 * this order (SPEC D2):
 *   1. the override installed by nr_stack_with_current (nestable);
 *   2. the frame installed by the binding for the duration of a call: the
 *      chain of the calling Python context (a thread-confined cell);
 *   3. the stack bound to the thread (explicitly, or a lazily created default).
 * Pushes and pops act on whichever is visible.
 *
 * Ownership: nr_stack_new* return one reference; nr_stack_ref/release manage
 * it.  A thread binding, an override and a captured binding each hold their
 * own reference.
 */
#ifndef NR_STACK_H
#define NR_STACK_H

#include "nr_scope.h"

#include <pthread.h>

typedef struct nr_stack {
    nr_refcount refs;
    nr_scope *top; /* strong; guarded by the process-wide cell lock */
} nr_stack;

/* A stack with a fresh root of its own. */
nr_stack *nr_stack_new(nr_error *err);
/* A stack whose top is `top` (borrowed; the stack takes a reference). */
nr_stack *nr_stack_new_at(nr_scope *top, nr_error *err);
nr_stack *nr_stack_ref(nr_stack *s);
void nr_stack_release(nr_stack *s); /* NULL-safe */
/* The stack's top, a new reference. */
nr_scope *nr_stack_top(nr_stack *s);

/* Tier 2: a frame lives on the binding's C stack for one call.  It holds a
 * strong reference to its top; only its own thread touches it. */
typedef struct nr_frame {
    nr_scope *top;
} nr_frame;

/* Installs f as this thread's frame; returns the previous one to restore. */
nr_frame *nr_frame_install(nr_frame *f);
void nr_frame_restore(nr_frame *previous);

/* Tier 1: runs cb(user_data) with `stack` visible on this thread, restoring
 * the previous override afterwards.  Returns cb's status. */
NemoRelayStatus nr_stack_with_current(nr_stack *stack, NemoRelayStatus (*cb)(void *),
                                      void *user_data);

/* Tier 3: a thread's binding (stack + whether it was set explicitly). */
typedef struct nr_binding {
    nr_stack *stack; /* strong, may be NULL (nothing bound yet) */
    bool explicit_;
} nr_binding;

/* Binds stack to this thread (explicit = true).  Takes its own reference. */
void nr_thread_bind(nr_stack *stack);
/* Snapshot of this thread's binding (takes a reference). */
nr_binding nr_thread_capture(void);
/* Puts a captured binding back; consumes it. */
void nr_thread_restore(nr_binding *b);
/* Frees a captured binding without restoring it. */
void nr_binding_clear(nr_binding *b);

/* Saved tiers 1 and 2, for code that must see only tier 3 and its own frames
 * (the binding runs Python callbacks with both suspended: their ContextVar
 * already mirrors the visible chain). */
typedef struct nr_suspended {
    nr_stack *override;
    nr_frame *frame;
} nr_suspended;
void nr_visibility_suspend(nr_suspended *saved);
void nr_visibility_resume(nr_suspended *saved);

/* The visible chain's top (new reference), creating the thread's default
 * stack if needed.  NULL only on allocation failure (err set). */
nr_scope *nr_visible_top(nr_error *err);

/* Whether an override or frame is installed, or the thread's stack was bound
 * explicitly. */
bool nr_visible_active(void);

/* Whether the thread's stack was bound explicitly. */
bool nr_thread_explicit(void);

/* The top of the thread's explicitly bound stack (new reference), or NULL if
 * the thread has no explicit binding. */
nr_scope *nr_thread_explicit_top(void);

/* Pushes a new node built from init (its `below` is filled in) onto the
 * visible chain; returns the node (new reference). */
nr_scope *nr_visible_push(nr_scope_init *init, nr_error *err);

/* Removes the node with uuid u if it is the visible top.  Errors:
 * NR_E_SCOPE_ROOT "root scope cannot be removed", NR_E_NOT_ON_TOP "scope
 * handle is not at the top of the stack", NR_E_SCOPE_NOT_FOUND "scope handle
 * not found", and NR_E_SCOPE_NOT_FOUND "scope <uuid> has already ended" when
 * another chain sharing the node popped it first (then an ended top is still
 * unlinked and *out holds it, new reference, for the caller to release).
 * On success *out is the popped node (new reference). */
NemoRelayStatus nr_visible_pop(const nr_uuid *u, nr_scope **out, nr_error *err);

/* Fork support: the cell lock is taken around fork() so the child never
 * inherits it locked. */
void nr_stack_fork_prepare(void);
void nr_stack_fork_parent(void);
void nr_stack_fork_child(void);

#endif /* NR_STACK_H */
