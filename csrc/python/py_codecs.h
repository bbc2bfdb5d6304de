/* py_codecs.h -- the built-in codec classes (OpenAIChatCodec,
 * OpenAIResponsesCodec, AnthropicMessagesCodec: csrc/codecs in C) and the
 * bridge that hands a call's codec= / response_codec= to the runtime: a
 * built-in runs in C without the GIL, any other object is a Python codec
 * implementing the LlmCodec / LlmResponseCodec protocols. */
#ifndef NR_PY_CODECS_H
#define NR_PY_CODECS_H

#include "py_state.h"

#include "nr_call.h"

typedef struct nr_py_codecs {
    nr_llm_codec codec;            /* valid when codec_obj != NULL */
    nr_llm_response_codec rcodec;  /* valid when rcodec_obj != NULL */
    PyObject *codec_obj, *rcodec_obj; /* strong or NULL */
    char codec_name[96], rcodec_name[96];
} nr_py_codecs;

/* Fills c from codec= and response_codec= (NULL or None: none).  -1 with
 * TypeError for an object that is not a codec.  c must be zeroed first;
 * c must not move afterwards (the runtime holds pointers into it). */
int nr_py_codecs_set(nr_py_codecs *c, PyObject *codec, PyObject *response_codec);
/* Drops the references (with the GIL). */
void nr_py_codecs_clear(nr_py_codecs *c);

/* The runtime views (NULL when absent). */
const nr_llm_codec *nr_py_codecs_request(const nr_py_codecs *c);
const nr_llm_response_codec *nr_py_codecs_response(const nr_py_codecs *c);

int nr_py_codecs_init(PyObject *module, nr_py_state *st);

#endif /* NR_PY_CODECS_H */
