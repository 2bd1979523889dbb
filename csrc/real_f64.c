/* real_f64.c: the templated kernels in float64. real_f32.c is its twin. */
#include "sia.h" /* first: it declares both precisions, then undefines REAL and FN */
#define REAL double
#define FN(name) name##_f64
#include "real.h"
