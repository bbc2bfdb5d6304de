/*
 * py_state.h -- the extension module's state and shared declarations.
 *
 * The runtime underneath is process-global, so the module supports one
 * instance per process (a second import in another interpreter is refused).
 * Everything Python-side lives in the module state: heap types, the scope
 * ContextVar, exception classes and cached helpers.  Code called back from the
 * C runtime, which has no module object at hand, reaches the state through
 * nr_py_get_state(), valid while the module is alive.
 */
#ifndef NR_PY_STATE_H
#define NR_PY_STATE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdbool.h>

#include "nr_error.h"
#include "nr_event.h"
#include "nr_scope.h"
#include "nr_stack.h"

typedef struct nr_py_state {
    /* heap types */
    PyTypeObject *ScopeHandle_Type;
    PyTypeObject *ToolHandle_Type;
    PyTypeObject *LLMHandle_Type;
    PyTypeObject *ScopeStack_Type;
    PyTypeObject *ScopeEvent_Type;
    PyTypeObject *MarkEvent_Type;
    PyTypeObject *LLMRequest_Type;
    PyTypeObject *CallState_Type;
    PyTypeObject *Next_Type;
    PyTypeObject *ChainStep_Type;
    PyTypeObject *ExecuteCall_Type;
    PyTypeObject *PluginContext_Type;
    PyTypeObject *Activation_Type;
    PyTypeObject *StreamHandle_Type;
    PyTypeObject *AnnotatedLLMRequest_Type, *AnnotatedLLMResponse_Type; /* py_annotated.c */
    PyTypeObject *OpenAIChatCodec_Type, *OpenAIResponsesCodec_Type,      /* py_codecs.c */
        *AnthropicMessagesCodec_Type;

    /* asyncio._get_running_loop */
    PyObject *get_running_loop;

    /* inspect.iscoroutinefunction */
    PyObject *iscoroutinefunction;

    /* nemo_relay._bridge.run_on_loop and .resolve (py_worker.c) */
    PyObject *run_on_loop, *resolve;

    /* nemo_relay.llm._native_next, looked up on first use (py_stream.c) */
    PyObject *native_next;

    /* the current scope chain of a Python context: a ScopeHandle, or None */
    PyObject *scope_var;

    /* nemo_relay.errors classes */
    PyObject *RelayError, *GuardrailRejected, *ScopeError, *NotOnTop, *ScopeNotFound,
        *AlreadyExists, *NotFoundError, *PluginError, *InvalidConfig, *RegistrationFailed,
        *PluginLoadError;

    /* nemo_relay._types classes (imported lazily: they import nothing native) */
    PyObject *ScopeType, *ScopeAttributes, *ToolAttributes, *LLMAttributes;

    /* datetime support */
    PyObject *epoch_utc; /* datetime(1970, 1, 1, tzinfo=timezone.utc) */

    /* interned strings */
    PyObject *str_value, *str_headers, *str_content;

    /* set while the interpreter shuts down: stop calling into Python */
    int finalizing;
} nr_py_state;

/* Every object the state holds, for traverse and clear. */
#define NR_PY_STATE_OBJECTS(X)                                                              \
    X(ScopeHandle_Type) X(ToolHandle_Type) X(LLMHandle_Type) X(ScopeStack_Type)             \
    X(ScopeEvent_Type) X(MarkEvent_Type) X(LLMRequest_Type) X(CallState_Type) X(Next_Type)  \
    X(ChainStep_Type) X(ExecuteCall_Type) X(PluginContext_Type) X(Activation_Type)          \
    X(StreamHandle_Type) X(get_running_loop) X(iscoroutinefunction) X(run_on_loop)          \
    X(resolve) X(native_next) X(scope_var) X(RelayError) X(GuardrailRejected)               \
    X(ScopeError) X(NotOnTop) X(ScopeNotFound) X(AlreadyExists) X(NotFoundError)            \
    X(PluginError) X(InvalidConfig) X(RegistrationFailed) X(PluginLoadError) X(ScopeType)   \
    X(ScopeAttributes) X(ToolAttributes) X(LLMAttributes) X(epoch_utc) X(str_value)         \
    X(str_headers) X(str_content)                                                           \
    X(AnnotatedLLMRequest_Type) X(AnnotatedLLMResponse_Type) X(OpenAIChatCodec_Type)        \
    X(OpenAIResponsesCodec_Type) X(AnthropicMessagesCodec_Type)

/* The state of the live module (NULL before import / after teardown). */
nr_py_state *nr_py_get_state(void);

/* Whether runtime code may still enter Python (false from interpreter
 * shutdown on: a foreign thread must not take the GIL then, SPEC D10).
 * Readable without the GIL. */
bool nr_py_alive(void);

/* ---- errors (py_errors.c) ---- */

/* Raises the Python exception for err (re-raising a foreign exception as is)
 * and clears err.  Returns NULL for convenience. */
PyObject *nr_py_raise(nr_error *err);

/* Stores the current Python exception into err as a foreign error
 * (kind NR_E_CALLBACK, message "<prefix>: <str(exc)>"); clears the Python
 * error indicator.  Returns the status. */
NemoRelayStatus nr_py_capture_exception(nr_error *err, const char *prefix);

/* The text of exception exc for a message: str(exc) as UTF-8 (a lone
 * surrogate escaped), or exc's type name when str() fails or is empty
 * ("unknown error" for NULL).  Call it with no exception pending; it never
 * fails and leaves none.  Borrowed: valid while exc and *holder live;
 * *holder gets a new reference (or NULL) the caller releases. */
const char *nr_py_exc_text(PyObject *exc, PyObject **holder);

/* Reports a RuntimeWarning; never leaves an exception set. */
void nr_py_warn(const char *message);

/* ---- argument parsing (py_args.c) ---- */

/* Parses vectorcall arguments against names[] (NULL-terminated).  The first
 * npos names may be given positionally; the others by keyword only; the
 * first nreq are required.  out[] receives borrowed references (NULL when
 * absent; None counts as present). */
int nr_py_parse_args(const char *fname, PyObject *const *args, Py_ssize_t nargs,
                     PyObject *kwnames, const char *const *names, int npos, int nreq,
                     PyObject **out);

/* Optional str argument: NULL/None -> *out NULL; else UTF-8 (borrowed). */
int nr_py_opt_str(PyObject *obj, const char *what, const char **out);

/* Required str argument: UTF-8 (borrowed from obj), or -1 with TypeError
 * ("<what> must be a str, not <type>") for anything else, None included. */
int nr_py_req_str(PyObject *obj, const char *what, const char **out);

/* ---- handles (py_handles.c) ---- */

/* A handle object for node: the cached wrapper if one is alive, else a new
 * one of the type matching the node's family.  New reference. */
PyObject *nr_py_handle_for(nr_scope *node);
/* The node of a ScopeHandle/ToolHandle/LLMHandle (borrowed) or NULL with a
 * TypeError set. */
nr_scope *nr_py_handle_node(PyObject *obj, const char *what);
/* The stack of a ScopeStack object (borrowed) or NULL with TypeError. */
nr_stack *nr_py_stack_of(PyObject *obj);
PyObject *nr_py_stack_new(nr_stack *stack); /* takes a reference of its own */

/* ---- events (py_events.c) ---- */

/* A ScopeEvent or MarkEvent wrapping ev (new reference). */
PyObject *nr_py_event_new(nr_event *ev);

int nr_py_handles_init(PyObject *module, nr_py_state *st);
int nr_py_plugin_init(PyObject *module, nr_py_state *st);
int nr_py_stream_init(PyObject *module, nr_py_state *st);
int nr_py_events_init(PyObject *module, nr_py_state *st);

#endif /* NR_PY_STATE_H */
