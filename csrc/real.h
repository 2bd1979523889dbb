/* real.h: instantiates every templated kernel file for the REAL and FN that the includer set.
 * <tgmath.h> makes exp, tanh, log1p, sqrt ... pick the float or double version from REAL. */
#include <string.h>
#include <stdlib.h>
#include <float.h>
#include <tgmath.h>
#include "sia.h"

#include "gemm.c"
#include "dense.c"
#include "conv.c"
#include "pooling.c"
#include "activation.c"
#include "loss.c"
#include "optim.c"
#include "noise.c"
#include "net.c"
#include "train.c"
#include "vae.c"
