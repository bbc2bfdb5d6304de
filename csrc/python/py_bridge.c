/* py_bridge.c -- the ContextVar <-> C visibility bridge. */
#include "py_bridge.h"

int nr_py_current_value(nr_py_state *st, PyObject **value)
{
    *value = NULL;
    if (PyContextVar_Get(st->scope_var, NULL, value) < 0)
        return -1;
    if (*value == Py_None)
        Py_CLEAR(*value);
    return 0;
}

int nr_py_set_current(nr_py_state *st, PyObject *handle)
{
    PyObject *tok = PyContextVar_Set(st->scope_var, handle);
    if (tok == NULL)
        return -1;
    Py_DECREF(tok);
    return 0;
}

PyObject *nr_py_visible_handle(void)
{
    nr_error err = NR_ERROR_INIT;
    nr_scope *top = nr_visible_top(&err);
    if (top == NULL)
        return nr_py_raise(&err);
    PyObject *h = nr_py_handle_for(top);
    nr_scope_release(top);
    return h;
}

PyObject *nr_py_current_handle(nr_py_state *st)
{
    PyObject *value;
    if (nr_py_current_value(st, &value) < 0)
        return NULL;
    if (value != NULL)
        return value;
    /* Unset in this context: seed it from what C shows (override or the
     * thread's binding), so every task keeps its own chain from here on. */
    PyObject *h = nr_py_visible_handle();
    if (h == NULL || nr_py_set_current(st, h) < 0) {
        Py_XDECREF(h);
        return NULL;
    }
    return h;
}

int nr_py_frame_enter(nr_py_state *st, nr_py_frame *f)
{
    PyObject *h = nr_py_current_handle(st);
    if (h == NULL)
        return -1;
    nr_scope *node = nr_py_handle_node(h, "current scope");
    if (node == NULL) {
        Py_DECREF(h);
        return -1;
    }
    f->entry_handle = h;
    f->entry = node;
    nr_scope *bound = nr_thread_explicit_top();
    f->on_thread_stack = bound == node;
    nr_scope_release(bound);
    if (f->on_thread_stack) {
        f->frame.top = NULL;
        f->prev = NULL;
        return 0;
    }
    f->frame.top = nr_scope_ref(node);
    f->prev = nr_frame_install(&f->frame);
    return 0;
}

int nr_py_frame_exit(nr_py_state *st, nr_py_frame *f, PyObject *hint)
{
    nr_scope *top;
    if (f->on_thread_stack) {
        top = nr_thread_explicit_top();
        if (top == NULL) /* the call unbound the thread: keep the context as it was */
            top = nr_scope_ref(f->entry);
    } else {
        nr_frame_restore(f->prev);
        top = f->frame.top;
    }
    int rc = 0;
    if (top != f->entry) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyObject *h = (hint != NULL && nr_py_handle_node(hint, "hint") == top)
                          ? Py_NewRef(hint)
                          : nr_py_handle_for(top);
        if (h == NULL || nr_py_set_current(st, h) < 0)
            rc = -1;
        Py_XDECREF(h);
        if (rc == 0)
            PyErr_Restore(type, value, tb);
        else {
            Py_XDECREF(type);
            Py_XDECREF(value);
            Py_XDECREF(tb);
        }
    }
    nr_scope_release(top);
    Py_CLEAR(f->entry_handle);
    return rc;
}

PyObject *nr_py_call_bridged(nr_py_state *st, PyObject *callable, PyObject *const *args,
                             size_t nargs, PyObject *context)
{
    nr_error err = NR_ERROR_INIT;
    nr_scope *top = nr_visible_top(&err);
    if (top == NULL)
        return nr_py_raise(&err);
    PyObject *result = NULL, *entered = NULL, *old = NULL;
    nr_suspended saved;
    nr_visibility_suspend(&saved);

    if (context != NULL) {
        entered = PyContext_Copy(context);
        if (entered == NULL || PyContext_Enter(entered) < 0) {
            Py_CLEAR(entered);
            goto done;
        }
    }
    if (nr_py_current_value(st, &old) < 0)
        goto exit_context;
    nr_scope *old_node = old != NULL ? nr_py_handle_node(old, "current scope") : NULL;
    if (old_node == NULL)
        PyErr_Clear(); /* not a handle: as if unset */
    bool switched = old_node != top;
    if (switched) {
        PyObject *h = nr_py_handle_for(top);
        if (h == NULL || nr_py_set_current(st, h) < 0) {
            Py_XDECREF(h);
            goto exit_context;
        }
        Py_DECREF(h);
    }
    result = PyObject_Vectorcall(callable, args, nargs, NULL);
    if (switched && entered == NULL) {
        /* Restore the caller's value; the callback's own changes to the
         * chain do not leak out of it. */
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        if (nr_py_set_current(st, old != NULL ? old : Py_None) < 0)
            PyErr_Clear();
        PyErr_Restore(type, value, tb);
    }
exit_context:
    if (entered != NULL) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        if (PyContext_Exit(entered) < 0)
            PyErr_Clear();
        PyErr_Restore(type, value, tb);
        Py_DECREF(entered);
    }
done:
    Py_XDECREF(old);
    nr_visibility_resume(&saved);
    nr_scope_release(top);
    return result;
}
