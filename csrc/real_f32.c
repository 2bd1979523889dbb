/* real_f32.c: the templated kernels in float32. real_f64.c is its twin. */
#include "sia.h" /* first: it declares both precisions, then undefines REAL and FN */
#define REAL float
#define FN(name) name##_f32
#include "real.h"
