/* real.h: instantiates every templated kernel file for the REAL and FN that the includer set.
 * <tgmath.h> makes exp, tanh, log1p, sqrt ... pick the float or double version from REAL. */
#include <string.h>
#include <stdlib.h>
#ifdef __linux__
#include <sys/mman.h> /* madvise: net.c offers its large blocks to huge pages */
#endif
#include <float.h>
#include <tgmath.h>
#include "sia.h"

#include "gemm.c"
#include "activation.c"
#include "loss.c"
#include "optim.c"
/* the layer kinds, one file each (the table of net.c lists them) */
#include "dense.c"
#include "noise.c"
#include "vae.c"
#include "conv.c"
#include "winograd.c"  /* conv.c's 3 × 3 stride-1 Conv2D path */
#include "winograd2.c" /* and its 3 × 3 stride-2 Conv2DTranspose forward, stride-2 dW */
#include "pooling.c"
/* the engine and the one trainer */
#include "net.c"
#include "train.c"
