/* wino2dw_body.c (template over REAL and a vector width, included by winograd2.c once per width,
 * as conv_body.c is by conv.c): the transforms of the dW of 3 × 3 stride-2 layers by F(2, 2), in
 * vectors of W2_VBYTES bytes across the channels. winograd2.c sets W2_VBYTES (32 or 64), W2_SFX
 * (the suffix of the names defined here: _avx512, or none) and W2_CLONES, and the target. The
 * transforms are additions lane by lane: the same bits on both widths. */

#define W2_CAT_(a, b) a##b
#define W2_CAT(a, b) W2_CAT_(a, b)
#define W2_FN(name) FN(name)
#define W2(name) W2_FN(W2_CAT(name, W2_SFX))
#define w2v W2_CAT(vreal, W2_SFX)
#define w2v_u W2_CAT(vreal_u, W2_SFX)
#define W2_VL ((int)(W2_VBYTES / sizeof(REAL)))

/* Loads n <= VL lanes of c, the others zero; stores n lanes. */
GEMM_INLINE w2v W2(w2_load)(const REAL *c, int64_t n) {
    if (n == W2_VL) return *(const w2v_u *)c;
    w2v v = {0};
    for (int l = 0; l < W2_VL; l++)
        if (l < n) v[l] = c[l];
    return v;
}
GEMM_INLINE void W2(w2_store_part)(REAL *c, w2v v, int64_t n) {
    for (int l = 0; l < W2_VL; l++)
        if (l < n) c[l] = v[l];
}

/* The 9 values M = G X Gᵀ (3 × 3, row-major) of a tile's small pixels X (2 × 2, row-major): every
   small-side value of the 25 is one of them (wino2dw_mrow). */
GEMM_INLINE void W2(wino2dw_tf_small)(w2v *v, const w2v *x) {
    for (int r = 0; r < 2; r++) /* X Gᵀ: rows 2r of M */
        v[6 * r] = x[2 * r], v[6 * r + 1] = x[2 * r] + x[2 * r + 1], v[6 * r + 2] = x[2 * r + 1];
    for (int b = 0; b < 3; b++) v[3 + b] = v[b] + v[6 + b];
}

/* The 25 values of a tile's big window P (5 × 5, row-major), in wino2dw_tf_small's order. */
GEMM_INLINE void W2(wino2dw_tf_big)(w2v *v, const w2v *p) {
    w2v e[15]; /* Bᵀ over the even rows k: e[5a + v'] for the 5 columns v' */
    for (int c = 0; c < 5; c++)
        e[c] = p[c] - p[10 + c], e[5 + c] = p[10 + c], e[10 + c] = p[20 + c] - p[10 + c];
    for (int a = 0; a < 3; a++) {
        const w2v *r = e + 5 * a;
        v[3 * a] = r[0] - r[2], v[3 * a + 1] = r[2], v[3 * a + 2] = r[4] - r[2]; /* ee: then B */
        v[9 + 2 * a] = r[1], v[10 + 2 * a] = r[3];                              /* eo: odd columns */
    }
    for (int r = 0; r < 2; r++) { /* oe: the odd rows 2r + 1, B over their even columns */
        const w2v *q = p + 5 * (2 * r + 1);
        v[15 + r] = q[0] - q[2], v[17 + r] = q[2], v[19 + r] = q[4] - q[2];
        v[21 + 2 * r] = q[1], v[22 + 2 * r] = q[3]; /* oo */
    }
}

/* Xt (m, 9, Cs) and Gt (m, 25, Cbp), m = t1 − t0: the values of the tiles t0 .. t1−1
   (numbered over the samples from u on), tile k's at rows 9k + i and 25k + e: the transformed small pixels
   (small (·, h, w, Cs), sample u first) and big windows (pads, samples sbA apart, each (Hp, Wp,
   Cb)); zeros (at least Cs and Cbp of them) outside the images. The values a partial tile does
   not have (a = 2 or r = 1 past the small image's last row, so for columns) are zero rows on
   both sides: the small side's are zero anyway, and the big side's are zeroed, so that no
   pixel the direct way never multiplies meets another. */
W2_CLONES
static void W2(wino2dw_in)(REAL *restrict Xt, REAL *restrict Gt, const REAL *small, const REAL *pads,
                           int64_t sbA, const FN(wino2dw_plan) *q, int64_t t0, int64_t t1, int64_t u,
                           const REAL *zeros) {
    const int64_t Cs = q->Cs, Cb = q->Cb, Cbp = q->Cbp;
    int64_t b = t0 / q->P, ty = t0 % q->P / q->tw, tx = t0 % q->tw;
    for (int64_t t = t0; t < t1; t++, Xt += 9 * Cs, Gt += 25 * Cbp) {
        const REAL *xs[4], *ps[25];
        for (int r = 0; r < 2; r++)
            for (int s = 0; s < 2; s++) {
                const int64_t y = 2 * ty + r, x = 2 * tx + s;
                xs[2 * r + s] = y < q->h && x < q->w ? small + (((b - u) * q->h + y) * q->w + x) * Cs : zeros;
            }
        const REAL *pad = pads + (b - u) * sbA;
        for (int i = 0; i < 5; i++)
            for (int k = 0; k < 5; k++) {
                const int64_t y = 4 * ty + i, x = 4 * tx + k;
                ps[5 * i + k] = y < q->Hp && x < q->Wp ? pad + (y * q->Wp + x) * Cb : zeros;
            }
        const int full = 2 * ty + 1 < q->h && 2 * tx + 1 < q->w;
        int keep[25]; /* the values a partial tile has: along y a = 0, 1 and r = 0 (so along x) */
        if (!full) {
            const int y2 = 2 * ty + 1 < q->h, x2 = 2 * tx + 1 < q->w;
            const int py[5] = {1, 1, y2, 1, y2}, px[5] = {1, 1, x2, 1, x2};
            for (int e = 0; e < 25; e++) {
                const int yi = e < 9 ? e / 3 : e < 15 ? (e - 9) / 2 : e < 21 ? 3 + (e - 15) % 2 : 3 + (e - 21) / 2;
                const int xi = e < 9 ? e % 3 : e < 15 ? 3 + (e - 9) % 2 : e < 21 ? (e - 15) / 2 : 3 + (e - 21) % 2;
                keep[e] = py[yi] && px[xi];
            }
        }
        if (++tx == q->tw && (tx = 0, ++ty == q->th)) ty = 0, b++;
        if (t + 1 < t1) /* the next tile's small pixels, read from memory (the big window is in L2) */
            for (int r = 0; r < 2; r++) {
                const int64_t y = 2 * ty + r, x0 = 2 * tx, nx = q->w - x0 < 2 ? q->w - x0 : 2;
                const char *a = (const char *)(small + (((b - u) * q->h + y) * q->w + x0) * Cs);
                for (int64_t o = 0; y < q->h && o < nx * Cs * (int64_t)sizeof(REAL); o += 64)
                    __builtin_prefetch(a + o, 0, 3);
            }
        w2v d[25], v[25];
        for (int64_t c = 0; c < Cs; c += W2_VL) {
            const int64_t n = Cs - c < W2_VL ? Cs - c : W2_VL;
            for (int e = 0; e < 4; e++) d[e] = W2(w2_load)(xs[e] + c, n);
            W2(wino2dw_tf_small)(v, d);
            REAL *o = Xt + c;
            if (n == W2_VL)
#pragma GCC unroll 9
                for (int e = 0; e < 9; e++, o += Cs) *(w2v_u *)o = v[e];
            else
                for (int e = 0; e < 9; e++, o += Cs) W2(w2_store_part)(o, v[e], n);
        }
        for (int64_t c = 0; c < Cbp; c += W2_VL) {
            const int64_t n = Cb - c < W2_VL ? Cb - c : W2_VL;
#pragma GCC unroll 25
            for (int e = 0; e < 25; e++) d[e] = W2(w2_load)(ps[e] + c, n);
            W2(wino2dw_tf_big)(v, d);
            if (!full)
                for (int e = 0; e < 25; e++) v[e] = keep[e] ? v[e] : (w2v){0};
            REAL *o = Gt + c; /* Cbp: whole 32-byte vectors, maybe half a 64-byte one */
            if (Cbp - c >= W2_VL)
#pragma GCC unroll 25
                for (int e = 0; e < 25; e++, o += Cbp) *(w2v_u *)o = v[e];
            else
                for (int e = 0; e < 25; e++, o += Cbp) W2(w2_store_part)(o, v[e], Cbp - c);
        }
    }
}


#undef W2_VL
#undef w2v_u
#undef w2v
#undef W2
#undef W2_FN
#undef W2_CAT
#undef W2_CAT_
#undef W2_CLONES
#undef W2_SFX
#undef W2_VBYTES
