"""What larger Winograd tiles would save on workload F's stride-2 convolutions, and what they
cost in float32 accuracy: the analysis behind the next step for issue 17's F target.

A 3 × 3 stride-2 Conv2DTranspose splits into four phases (csrc/winograd2.c): in one dimension
the even outputs are a 2-tap correlation of the input, the odd ones a 1-tap product. F(m, 2)
gives m outputs of a 2-tap correlation from m + 1 inputs by m + 1 products, so a tile of m × m
input pixels and one channel pair costs (m + 1)² + 2·m·(m + 1) + m² products (even-even,
even-odd, odd-even, odd-odd) against 9·m² for the direct phases. The same counts hold for the
stride-2 Conv2D (its transpose) and for both layers' dW. A grid of g × g input pixels takes
ceil(g / m)² tiles; the cells past the grid are products for nothing.

The transforms are built here from Toom-Cook interpolation at the points given (plus infinity)
in exact rational arithmetic; the script checks each one exactly on random integers, then
measures its float32 error on an even-even phase summed over 64 input channels, against the
same sum done directly in float32, both against float64.

    python bench/winograd_tiles.py
"""
from fractions import Fraction

import numpy as np

# Interpolation points of F(m, 2) (m finite points; infinity is the last): small integers first,
# then halves, which keep the transforms' entries smallest.
POINTS = {1: [0], 2: [0, 1], 3: [0, 1, -1], 4: [0, 1, -1, 2], 6: [0, 1, -1, 2, -2, Fraction(1, 2)],
          7: [0, 1, -1, 2, -2, Fraction(1, 2), Fraction(-1, 2)]}
# Workload F's stride-2 layers (but the first, of one input channel) and the grid of their small
# image: the input of a Conv2DTranspose, the output of a Conv2D.
F_LAYERS = [("Conv2D 14x14x32 -> 7x7x64", 7), ("Conv2DTranspose 7x7x64 -> 14x14x64", 7),
            ("Conv2DTranspose 14x14x64 -> 28x28x32", 14)]


def inverse(E):
    """The inverse of the square rational matrix E (lists of Fractions), by Gauss-Jordan."""
    n = len(E)
    M = [row[:] + [Fraction(int(i == j)) for j in range(n)] for i, row in enumerate(E)]
    for c in range(n):
        p = next(i for i in range(c, n) if M[i][c] != 0)
        M[c], M[p] = M[p], M[c]
        M[c] = [v / M[c][c] for v in M[c]]
        for i in range(n):
            if i != c and M[i][c] != 0:
                M[i] = [a - M[i][c] * b for a, b in zip(M[i], M[c])]
    return [row[n:] for row in M]


def vandermonde(points, k):
    """Rows (1, a, a², ..., a^(k-1)) for each point a, then (0, ..., 0, 1) for infinity."""
    return [[Fraction(a) ** j for j in range(k)] for a in points] + [[Fraction(0)] * (k - 1) + [Fraction(1)]]


def transforms(m, r=2):
    """Aᵀ (m, n), G (n, r), Bᵀ (n, n), n = m + r - 1, of the correlation y_i = Σ_j d[i + j] h[j]:
    y = Aᵀ [(G h) ⊙ (Bᵀ d)]. The linear convolution of h (r) and x (m) is
    z = E⁻¹ [(G h) ⊙ (X x)] (E, G, X evaluate at the points); the correlation is its transpose
    in x: Aᵀ = Xᵀ, Bᵀ = E⁻ᵀ."""
    pts = POINTS[m]
    n = m + r - 1
    E, G, X = vandermonde(pts, n), vandermonde(pts, r), vandermonde(pts, m)
    Einv = inverse(E)
    AT = [[X[k][i] for k in range(n)] for i in range(m)]
    BT = [[Einv[j][k] for j in range(n)] for k in range(n)]
    return AT, G, BT


def matvec(M, v):
    return [sum(a * b for a, b in zip(row, v)) for row in M]


def products(m):
    """Products per tile of m × m input pixels and channel pair, Winograd and direct."""
    return (m + 1) ** 2 + 2 * m * (m + 1) + m * m, 9 * m * m


def float32_error(m, rng, C=64, N=64, T=64):
    """Max |error| / max |y| of the even-even phase (a 2 × 2-tap correlation over C channels) on
    T tiles, directly in float32 and by F(m × m, 2 × 2) in float32, against float64."""
    AT, G, BT = (np.array([[float(v) for v in row] for row in M], np.float32) for M in transforms(m))
    n = m + 1
    x = rng.standard_normal((T, n, n, C)).astype(np.float32)
    w = (rng.standard_normal((2, 2, C, N)) * 0.1).astype(np.float32)
    ref, direct = np.zeros((T, m, m, N)), np.zeros((T, m, m, N), np.float32)
    for a in range(2):
        for b in range(2):
            ref += np.einsum("tijc,cn->tijn", x[:, a:a + m, b:b + m].astype(np.float64), w[a, b].astype(np.float64))
            direct += np.einsum("tijc,cn->tijn", x[:, a:a + m, b:b + m], w[a, b])
    U = np.einsum("ia,abcn,jb->ijcn", G, w, G)
    V = np.einsum("ia,tabc,jb->tijc", BT, x, BT)
    y = np.einsum("ia,tabn,jb->tijn", AT, np.einsum("tijc,ijcn->tijn", V, U), AT)
    scale = np.abs(ref).max()
    return np.abs(direct - ref).max() / scale, np.abs(y - ref).max() / scale


def main():
    rng = np.random.default_rng(0)
    print("F(m, 2) on the phases: products per tile and channel pair; float32 error of the "
          "even-even phase over 64 channels (max |error| / max |y|)")
    for m in POINTS:
        AT, G, BT = transforms(m)
        for _ in range(20):  # exact on integers
            d = [Fraction(int(v)) for v in rng.integers(-9, 10, m + 1)]
            h = [Fraction(int(v)) for v in rng.integers(-9, 10, 2)]
            y = matvec(AT, [g * b for g, b in zip(matvec(G, h), matvec(BT, d))])
            assert y == [d[i] * h[0] + d[i + 1] * h[1] for i in range(m)], m
        wino, direct = products(m)
        e_direct, e_wino = float32_error(m, rng)
        big = max(abs(float(v)) for M in (AT, BT) for row in M for v in row)
        print(f"  F({m}, 2): {wino:4d} / {direct:4d} products ({direct / wino:.2f}× fewer); "
              f"error direct {e_direct:.1e}, Winograd {e_wino:.1e}; largest transform entry {big:g}")
    print("\nWorkload F's stride-2 layers: direct products ÷ Winograd products, partial tiles counted")
    print("  " + " " * 38 + "".join(f"  m = {m}" for m in POINTS if m > 1))
    for name, g in F_LAYERS:
        cells = []
        for m in (m for m in POINTS if m > 1):
            tiles = -(-g // m)
            cells.append(f"{9 * g * g / (products(m)[0] * tiles * tiles):7.2f}")
        print(f"  {name:38s}" + "".join(cells))


if __name__ == "__main__":
    main()
