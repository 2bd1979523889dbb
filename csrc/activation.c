/* activation.c (template, see real.h): element-wise activations with a slope β.
 *   linear      y = x                     f' = 1
 *   logistic(β) y = 1 / (1 + exp(-2βx))   f' = 2β y (1 - y)
 *   tanh(β)     y = tanh(βx)              f' = β (1 - y²)
 *   relu        y = max(0, x)             f' = [y > 0]
 *   elu(β)      y = x (x > 0), β (eˣ - 1)   f' = 1 (y > 0), y + β
 *   selu        y = λ elu_α(x)              f' = λ (y > 0), y + λα     (α, λ: sia.h)
 * Each derivative is written from the cached output y, so backward needs no x.
 *
 * Speed. The loops run over 32-byte vectors (GCC vector extensions), and every function that
 * loops is compiled three times on x86-64 (target_clones: AVX-512, AVX2 + FMA, and the
 * baseline), the loader picking one per process from the CPU; never -march=native. exp and tanh are computed in the vectors
 * (sia_vexpm1 below) to within a few ulp of libm, so results change only by float rounding.
 * loss.c (included after this file) uses the same helpers. */

#ifndef SIA_SIMD_ONCE
#define SIA_SIMD_ONCE
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SIA_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define SIA_CLONES
#endif
#define SIA_INLINE static inline __attribute__((always_inline))
/* The vector helpers are always inlined into their (cloned) callers: no vector crosses a call. */
#pragma GCC diagnostic ignored "-Wpsabi"
typedef int32_t sia_vi_f32 __attribute__((vector_size(32)));
typedef int64_t sia_vi_f64 __attribute__((vector_size(32)));
#endif

/* sia_vr: one 32-byte vector of REAL (8 floats or 4 doubles); sia_vi: the integers of its bits. */
typedef REAL sia_vr __attribute__((vector_size(32)));
typedef REAL sia_vr_u __attribute__((vector_size(32), aligned(sizeof(REAL)), may_alias));
#define sia_vi FN(sia_vi)
enum { SIA_VL = 32 / sizeof(REAL) };
#define SIA_IS32 (sizeof(REAL) == 4)

/* Load n < VL elements (zero beyond them), store the first n. */
SIA_INLINE sia_vr FN(vload_part)(const REAL *p, int64_t n) {
    sia_vr v = {0};
    for (int64_t i = 0; i < n; i++) v[i] = p[i];
    return v;
}
/* The next VL elements, or the last m < VL zero-padded. */
SIA_INLINE sia_vr FN(vload)(const REAL *p, int64_t m) {
    if (m >= SIA_VL) return *(const sia_vr_u *)p;
    return FN(vload_part)(p, m);
}
SIA_INLINE void FN(vstore_part)(REAL *p, sia_vr v, int64_t n) {
    for (int64_t i = 0; i < n; i++) p[i] = v[i];
}

/* Lane-wise select and bounds, with no C ternary on vectors: NaN stays NaN in vmin/vmax. */
SIA_INLINE sia_vr FN(vselect)(sia_vi mask, sia_vr a, sia_vr b) { /* mask ? a : b */
    return (sia_vr)(((sia_vi)a & mask) | ((sia_vi)b & ~mask));
}
SIA_INLINE sia_vr FN(vmin)(sia_vr a, REAL c) {
    sia_vr cv = (sia_vr){0} + c;
    return FN(vselect)(a > cv, cv, a);
}
SIA_INLINE sia_vr FN(vmax)(sia_vr a, REAL c) {
    sia_vr cv = (sia_vr){0} + c;
    return FN(vselect)(a < cv, cv, a);
}
#define SIA_SIGN ((sia_vi)(-(sia_vr){0})) /* -0.0 in every lane: the sign bits alone */
SIA_INLINE sia_vr FN(vabs)(sia_vr a) { return (sia_vr)((sia_vi)a & ~SIA_SIGN); }

/* u (clamped by the caller to where exp is finite): returns expm1(u) and sets *e = exp(u).
 * u = k ln2 + r with |r| <= ln2/2 (Cody-Waite, ln2 in two parts), expm1(r) by its Taylor
 * series (degree 7 in float, 13 in double: remainder below half an ulp), then
 * exp(u) = 2^k (1 + expm1(r)) and expm1(u) = 2^k expm1(r) + (2^k - 1), exact for k = 0. */
SIA_INLINE sia_vr FN(vexpm1)(sia_vr u, sia_vr *e) {
    const REAL log2e = (REAL)1.4426950408889634, magic = SIA_IS32 ? (REAL)0x1.8p23 : (REAL)0x1.8p52;
    const REAL ln2_hi = SIA_IS32 ? (REAL)0.693145751953125 : (REAL)6.93147180369123816490e-01;
    const REAL ln2_lo = SIA_IS32 ? (REAL)1.428606765330187e-06 : (REAL)1.90821492927058770002e-10;
    sia_vr big = u * log2e + magic;  /* k = round(u log2e) in the low mantissa bits */
    sia_vr kf = big - magic;
    sia_vr r = (u - kf * ln2_hi) - kf * ln2_lo;
    const int deg = SIA_IS32 ? 7 : 13;
    static const double inv_fact[14] = {1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720,
                                        1.0 / 5040, 1.0 / 40320, 1.0 / 362880, 1.0 / 3628800,
                                        1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800.0};
    sia_vr p = (sia_vr){0} + (REAL)inv_fact[deg];
    for (int d = deg - 1; d >= 1; d--) p = p * r + (REAL)inv_fact[d];
    p = p * r; /* expm1(r) */
    sia_vi k = (sia_vi)big - (sia_vi)((sia_vr){0} + magic);
    const int shift = SIA_IS32 ? 23 : 52, bias = SIA_IS32 ? 127 : 1023;
    sia_vr s = (sia_vr)((k + bias) << shift); /* 2^k */
    *e = s * p + s;
    return s * p + (s - 1);
}

/* log1p(x) for x in [0, 1]: with s = x/(2+x) in [0, 1/3], log1p(x) = 2 atanh(s)
 * = 2s Σ_j s^2j / (2j+1), to j = 6 in float and 15 in double (remainder below half an ulp). */
SIA_INLINE sia_vr FN(vlog1p01)(sia_vr x) {
    sia_vr s = x / (x + 2), z = s * s;
    const int terms = SIA_IS32 ? 7 : 16;
    sia_vr p = (sia_vr){0} + (REAL)(1.0 / (2 * terms - 1));
    for (int j = terms - 2; j >= 0; j--) p = p * z + (REAL)(1.0 / (2 * j + 1));
    return 2 * s * p;
}

/* tanh(x), odd: with a = min(|x|, CAP), tanh(a) = expm1(2a) / (expm1(2a) + 2), no cancellation
 * for small a. Past CAP (9 in float, 19.5 in double) tanh rounds to 1. */
SIA_INLINE sia_vr FN(vtanh)(sia_vr x) {
    sia_vr a = FN(vmin)(FN(vabs)(x), SIA_IS32 ? (REAL)9 : (REAL)19.5), e;
    sia_vr m = FN(vexpm1)(2 * a, &e);
    sia_vr t = m / (m + 2);
    return (sia_vr)((sia_vi)t | ((sia_vi)x & SIA_SIGN));
}

/* 1/(1+exp(u)), exp taken of u clamped to where it is finite; NaN stays NaN. */
SIA_INLINE sia_vr FN(vlogistic_neg)(sia_vr u) {
    const REAL lim = SIA_IS32 ? (REAL)88 : (REAL)708;
    sia_vr e;
    FN(vexpm1)(FN(vmax)(FN(vmin)(u, lim), -lim), &e);
    return FN(vselect)(u > lim, (sia_vr){0}, 1 / (1 + e)); /* exp(u) overflows: y = 0, as libm */
}

/* elu and selu: y = s x for x > 0, s a expm1(x) otherwise (elu: a = β, s = 1; selu: α, λ),
   with sa = s a. expm1 of x clamped below to where exp underflows (there y = -s a); NaN stays
   NaN. Every path (these, act_grad, loss.c) uses the same REAL s and sa, so they agree. */
SIA_INLINE sia_vr FN(velu)(sia_vr x, REAL sa, REAL s) {
    sia_vr e;
    const sia_vr m = FN(vexpm1)(FN(vmax)(FN(vmin)(x, 0), SIA_IS32 ? (REAL)-88 : (REAL)-708), &e);
    return FN(vselect)(x > 0, s * x, sa * m);
}
/* Their derivative from y: s where y > 0, else s a eˣ = y + s a. */
SIA_INLINE sia_vr FN(velu_grad)(sia_vr y, REAL sa, REAL s) {
    return FN(vselect)(y > 0, (sia_vr){0} + s, y + sa);
}
/* s and s a of elu(β) and selu in REAL, s a formed in double and rounded once. */
#define SIA_ELU_SA(kind, beta) ((REAL)((kind) == SIA_SELU ? SIA_SELU_SCALE * SIA_SELU_ALPHA : (beta)))
#define SIA_ELU_S(kind) ((kind) == SIA_SELU ? (REAL)SIA_SELU_SCALE : (REAL)1)

static inline REAL FN(act_grad)(REAL y, int kind, REAL beta) {
    switch (kind) {
    case SIA_LOGISTIC: return 2 * beta * y * (1 - y);
    case SIA_TANH: return beta * (1 - y * y);
    case SIA_RELU: return y > 0 ? (REAL)1 : (REAL)0;
    case SIA_ELU:
    case SIA_SELU: return y > 0 ? SIA_ELU_S(kind) : y + SIA_ELU_SA(kind, beta);
    default: return 1;
    }
}

SIA_CLONES
void FN(sia_act_forward)(REAL *out, const REAL *inp, int64_t n, int kind, double beta) {
    const REAL b = (REAL)beta, b2 = (REAL)(2 * beta);
    int64_t i = 0;
    switch (kind) {
    case SIA_LOGISTIC:
        for (; i + SIA_VL <= n; i += SIA_VL)
            *(sia_vr_u *)(out + i) = FN(vlogistic_neg)(-b2 * *(const sia_vr_u *)(inp + i));
        if (i < n) FN(vstore_part)(out + i, FN(vlogistic_neg)(-b2 * FN(vload_part)(inp + i, n - i)), n - i);
        break;
    case SIA_TANH:
        for (; i + SIA_VL <= n; i += SIA_VL)
            *(sia_vr_u *)(out + i) = FN(vtanh)(b * *(const sia_vr_u *)(inp + i));
        if (i < n) FN(vstore_part)(out + i, FN(vtanh)(b * FN(vload_part)(inp + i, n - i)), n - i);
        break;
    case SIA_RELU:
        for (; i < n; i++) out[i] = inp[i] > 0 ? inp[i] : 0;
        break;
    case SIA_ELU:
    case SIA_SELU: {
        const REAL sa = SIA_ELU_SA(kind, beta), s = SIA_ELU_S(kind);
        for (; i + SIA_VL <= n; i += SIA_VL)
            *(sia_vr_u *)(out + i) = FN(velu)(*(const sia_vr_u *)(inp + i), sa, s);
        if (i < n) FN(vstore_part)(out + i, FN(velu)(FN(vload_part)(inp + i, n - i), sa, s), n - i);
        break;
    }
    default:
        if (out != inp) memcpy(out, inp, (size_t)n * sizeof(REAL));
    }
}

/* dinp += dout · f'(y), one loop per kind so that each vectorizes. */
SIA_CLONES
void FN(sia_act_backward)(REAL *dinp, const REAL *dout, const REAL *out, int64_t n, int kind,
                          double beta) {
    const REAL b = (REAL)beta, b2 = (REAL)(2 * beta);
    switch (kind) {
    case SIA_LOGISTIC:
        for (int64_t i = 0; i < n; i++) dinp[i] += dout[i] * (b2 * out[i] * (1 - out[i]));
        break;
    case SIA_TANH:
        for (int64_t i = 0; i < n; i++) dinp[i] += dout[i] * (b * (1 - out[i] * out[i]));
        break;
    case SIA_RELU:
        for (int64_t i = 0; i < n; i++) dinp[i] += dout[i] * (REAL)(out[i] > 0);
        break;
    case SIA_ELU:
    case SIA_SELU:
        for (int64_t i = 0; i < n; i++) dinp[i] += dout[i] * FN(act_grad)(out[i], kind, b);
        break;
    default:
        for (int64_t i = 0; i < n; i++) dinp[i] += dout[i];
    }
}
