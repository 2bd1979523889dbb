/* simd.c: which vector path the matrix product runs (sia.h), in plain C (not templated).
 * module.c sets sia_simd once when the module loads, from the CPU and SIA_SIMD; the tests
 * switch it between the paths the CPU has, to check each against NumPy. */
#include <string.h>
#include "sia.h"

int sia_simd = SIA_SIMD_BASELINE;
int sia_winograd = 1;

/* x86-64-v4 is AVX-512 F, BW, CD, DQ and VL (and v3); x86-64-v3 is AVX2, FMA, BMI1/2, F16C,
   LZCNT, MOVBE (the levels of the x86-64 psABI, which gemm.c's paths are compiled for). */
int sia_simd_widest(void) {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4")) return SIA_SIMD_AVX512;
    if (__builtin_cpu_supports("x86-64-v3")) return SIA_SIMD_AVX2;
#endif
    return SIA_SIMD_BASELINE;
}

/* conv.c's direct kernels follow sia_simd, so SIA_SIMD narrows them too. */
int sia_simd_conv_bytes(void) { return sia_simd == SIA_SIMD_AVX512 ? 64 : 32; }

static const char *const sia_simd_names[] = {"baseline", "avx2", "avx512"};

int sia_simd_parse(const char *s) {
    for (int i = 0; i < 3; i++)
        if (strcmp(s, sia_simd_names[i]) == 0) return i;
    return -1;
}

const char *sia_simd_name(int path) {
    return path >= 0 && path < 3 ? sia_simd_names[path] : "unknown";
}
