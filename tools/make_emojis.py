"""Draw the bundled 20×20 emoji set and write ``sia_autoencoder/data/emojis.npz``.

Every picture is built from signed distance functions (SDFs) evaluated at the 400 pixel
centres, so the output is pure arithmetic: no fonts, no PIL, no network, and the same bytes
on every run. A pixel's ink is its coverage by the shape, ``clip(0.5 - d, 0, 1)`` for a signed
distance ``d`` in pixels, which gives a one-pixel anti-aliased edge. 1 is ink, 0 is paper, so
the images are valid targets for binary cross-entropy.

Usage::

    python tools/make_emojis.py                      # writes sia_autoencoder/data/emojis.npz
    python tools/make_emojis.py --preview out.png    # also draws a labelled grid (needs matplotlib)
"""
import argparse
from pathlib import Path

import numpy as np

SIZE = 20  # pixels per side
OUT = Path(__file__).resolve().parent.parent / "sia_autoencoder" / "data" / "emojis.npz"

# Pixel-centre coordinates in pixel units: origin in the middle, x to the right, y up.
# X, Y (20, 20); row 0 is the top of the picture.
_c = np.arange(SIZE) - (SIZE - 1) / 2
X, Y = np.meshgrid(_c, -_c)


# --- signed distances (negative inside), all (20, 20) in pixels --------------------------------

def disk(cx, cy, r):
    return np.hypot(X - cx, Y - cy) - r


def ring(cx, cy, r, w):
    return np.abs(np.hypot(X - cx, Y - cy) - r) - w / 2


def ellipse(cx, cy, a, b, angle=0.0):
    """Ellipse with half-axes a (along ``angle`` degrees) and b; Quilez's first-order distance."""
    t = np.deg2rad(angle)
    u = (X - cx) * np.cos(t) + (Y - cy) * np.sin(t)
    v = -(X - cx) * np.sin(t) + (Y - cy) * np.cos(t)
    k0 = np.hypot(u / a, v / b)
    k1 = np.hypot(u / a**2, v / b**2)
    return k0 * (k0 - 1) / np.maximum(k1, 1e-9)


def segment(ax, ay, bx, by, w):
    """Thick line from (ax, ay) to (bx, by) with round caps, width w."""
    px, py, dx, dy = X - ax, Y - ay, bx - ax, by - ay
    h = np.clip((px * dx + py * dy) / (dx * dx + dy * dy), 0, 1)
    return np.hypot(px - h * dx, py - h * dy) - w / 2


def polyline(points, w):
    return np.minimum.reduce([segment(*a, *b, w) for a, b in zip(points[:-1], points[1:])])


def arc(cx, cy, r, a0, a1, w):
    """Thick circular arc from a0 to a1 degrees (counter-clockwise), round caps, width w."""
    mid, half = np.deg2rad((a0 + a1) / 2), np.deg2rad((a1 - a0) / 2)
    t = np.arctan2(Y - cy, X - cx) - mid
    t = (t + np.pi) % (2 * np.pi) - np.pi  # angle from the arc's middle, in [-pi, pi)
    on_arc = np.abs(np.hypot(X - cx, Y - cy) - r)
    ends = [np.hypot(X - cx - r * np.cos(mid + s * half), Y - cy - r * np.sin(mid + s * half))
            for s in (-1, 1)]
    return np.where(np.abs(t) <= half, on_arc, np.minimum(*ends)) - w / 2


def polygon(points):
    """Filled simple polygon (Quilez's exact distance, sign by the even-odd rule)."""
    p = np.asarray(points, dtype=float)
    d = np.full(X.shape, np.inf)
    inside = np.zeros(X.shape, dtype=bool)
    for (ax, ay), (bx, by) in zip(p, np.roll(p, -1, axis=0)):
        ex, ey, wx, wy = bx - ax, by - ay, X - ax, Y - ay
        h = np.clip((wx * ex + wy * ey) / (ex * ex + ey * ey), 0, 1)
        d = np.minimum(d, np.hypot(wx - h * ex, wy - h * ey))
        crosses = (ay > Y) != (by > Y)
        x_at = ax + (Y - ay) * ex / np.where(ey == 0, 1, ey)
        inside ^= crosses & (X < x_at)
    return np.where(inside, -d, d)


def box(cx, cy, hw, hh, r=0.0):
    """Rectangle centred at (cx, cy) with half sizes hw, hh and corner radius r."""
    qx, qy = np.abs(X - cx) - hw + r, np.abs(Y - cy) - hh + r
    out = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0))
    return out + np.minimum(np.maximum(qx, qy), 0) - r


def star_points(cx, cy, r_out, r_in, n=5, turn=90.0):
    a = np.deg2rad(turn + np.arange(2 * n) * 180.0 / n)
    r = np.where(np.arange(2 * n) % 2 == 0, r_out, r_in)
    return np.stack([cx + r * np.cos(a), cy + r * np.sin(a)], axis=1)


# --- compositing in coverage space ------------------------------------------------------------

def ink(d):
    return np.clip(0.5 - d, 0.0, 1.0)


class Canvas:
    def __init__(self):
        self.a = np.zeros((SIZE, SIZE))

    def add(self, *ds):
        for d in ds:
            self.a = np.maximum(self.a, ink(d))
        return self

    def cut(self, *ds):
        for d in ds:
            self.a = np.minimum(self.a, 1 - ink(d))
        return self


# --- faces: a ring with features inside --------------------------------------------------------

FACE_R, FACE_W = 8.6, 1.4
EYE_X, EYE_Y = 3.0, 2.6


def face():
    return Canvas().add(ring(0, 0, FACE_R, FACE_W))


def dot_eyes(c, r=1.35, y=EYE_Y):
    return c.add(disk(-EYE_X, y, r), disk(EYE_X, y, r))


def smile(c, r=4.6, cy=0.0, w=1.4):
    return c.add(arc(0, cy, r, 215, 325, w))


def smiley():
    return smile(dot_eyes(face()))


def sad():
    c = dot_eyes(face())
    c.add(arc(0, -7.6, 4.2, 45, 135, 1.4))
    return c.add(np.minimum(disk(-4.6, -1.4, 0.9), polygon([(-5.5, -1.2), (-4.6, 0.6), (-3.7, -1.2)])))  # tear


def surprised():
    c = face()
    dot_eyes(c, r=1.7, y=3.0)  # wide eyes
    return c.add(ring(0, -3.6, 2.0, 1.3))


def wink():
    c = face().add(disk(-EYE_X, EYE_Y, 1.35))
    c.add(polyline([(1.4, 3.6), (4.4, 2.4), (1.4, 1.2)], 1.2))  # '>' closed eye
    return c.add(arc(1.2, -0.2, 4.2, 225, 320, 1.4))  # lopsided smirk


def neutral():
    return dot_eyes(face()).add(segment(-3.6, -3.6, 3.6, -3.6, 1.5))


def angry():
    c = dot_eyes(face(), r=1.1, y=1.0)
    c.add(segment(-5.0, 4.9, -1.4, 3.2, 1.3), segment(5.0, 4.9, 1.4, 3.2, 1.3))  # frowning brows
    return c.add(arc(0, -8.0, 4.4, 55, 125, 1.4))


def laughing():
    c = face()
    c.add(arc(-EYE_X, 1.6, 1.8, 30, 150, 1.2), arc(EYE_X, 1.6, 1.8, 30, 150, 1.2))  # ^ ^
    mouth = np.maximum(disk(0, -0.8, 5.0), Y + 0.8)  # lower half-disk, open mouth
    return c.add(mouth)


def sleepy():
    c = face()
    c.add(arc(-EYE_X, 3.4, 1.9, 215, 325, 1.1), arc(EYE_X, 3.4, 1.9, 215, 325, 1.1))  # closed
    c.add(ring(1.6, -4.2, 1.2, 1.0))  # small snoring mouth
    return c.add(polyline([(-4.2, -2.6), (-2.0, -2.6), (-4.2, -5.2), (-2.0, -5.2)], 0.9))  # z


def cool():
    c = face()
    c.add(box(-3.2, 2.4, 2.3, 1.6, 0.8), box(3.2, 2.4, 2.3, 1.6, 0.8))  # sunglasses
    c.add(segment(-7.8, 3.4, 7.8, 3.4, 1.1))  # frame
    return c.add(arc(0, -0.4, 4.4, 220, 320, 1.3))  # grin


def kiss():
    c = dot_eyes(face())
    c.add(arc(-0.8, -2.6, 1.1, -100, 100, 1.0), arc(-0.8, -4.8, 1.1, -100, 100, 1.0))  # '3'
    return c.add(heart_sdf(4.9, -1.6, 0.28))  # blown kiss


def alien():
    c = Canvas()
    head = np.minimum(ellipse(0, 2.0, 7.6, 7.0), polygon([(-6.4, -1.0), (6.4, -1.0), (0, -9.4)]))
    c.add(head)
    return c.cut(ellipse(-3.2, 0.4, 2.6, 1.3, -35), ellipse(3.2, 0.4, 2.6, 1.3, 35))


def robot():
    c = Canvas()
    # Edges sit on whole pixel coordinates so the boxes come out crisp.
    c.add(box(0, -1.0, 7.0, 7.0, 1.0)).cut(box(0, -1.0, 5.0, 5.0))  # head
    c.add(box(0, 7.0, 1.0, 1.0), disk(0, 8.5, 1.3))  # antenna
    c.add(box(-3.0, 1.0, 1.0, 1.0), box(3.0, 1.0, 1.0, 1.0))  # square eyes
    c.add(box(0, -3.0, 3.0, 1.0)).cut(box(-1.5, -3.0, 0.5, 1.0), box(1.5, -3.0, 0.5, 1.0))  # grille
    return c.add(box(-8.0, -1.0, 1.0, 2.0), box(8.0, -1.0, 1.0, 2.0))  # ear bolts


def skull():
    c = Canvas()
    c.add(disk(0, 2.0, 7.4), box(0, -5.0, 4.0, 4.0, 1.0))
    c.cut(disk(-3.0, 1.4, 2.1), disk(3.0, 1.4, 2.1))  # eye sockets
    c.cut(polygon([(0, -1.0), (-1.2, -3.4), (1.2, -3.4)]))  # nose
    return c.cut(*(box(x, -7.5, 0.5, 2.0) for x in (-1.5, 1.5)))  # gaps between teeth


def ghost():
    c = Canvas()
    c.add(np.minimum(disk(0, 2.5, 7.0), box(0, -2.5, 7.0, 5.5)))
    c.cut(disk(-4.4, -8.2, 1.6), disk(0, -8.2, 1.6), disk(4.4, -8.2, 1.6))  # wavy hem
    return c.cut(ellipse(-2.4, 2.8, 1.2, 1.8), ellipse(2.4, 2.8, 1.2, 1.8), ellipse(0, -1.6, 1.2, 1.4))


def cat():
    c = Canvas()
    c.add(ellipse(0, -1.6, 8.2, 6.8))
    c.add(polygon([(-7.6, 0.4), (-7.4, 9.2), (-1.8, 4.4)]), polygon([(7.6, 0.4), (7.4, 9.2), (1.8, 4.4)]))
    c.cut(ellipse(-3.2, 0.0, 1.1, 1.6), ellipse(3.2, 0.0, 1.1, 1.6))  # eyes
    c.cut(polygon([(-1.1, -2.4), (1.1, -2.4), (0, -3.6)]))  # nose
    return c.cut(segment(-10, -4.0, -4.6, -3.4, 0.6), segment(10, -4.0, 4.6, -3.4, 0.6),
                 segment(-10, -6.0, -4.6, -5.0, 0.6), segment(10, -6.0, 4.6, -5.0, 0.6))


# --- icons --------------------------------------------------------------------------------------

def heart_sdf(cx, cy, s):
    """Filled heart of scale s (s=1 spans about 18 pixels)."""
    lobes = np.minimum(disk(cx - 4.2 * s, cy + 2.6 * s, 4.6 * s), disk(cx + 4.2 * s, cy + 2.6 * s, 4.6 * s))
    tip = polygon([(cx - 8.5 * s, cy + 1.3 * s), (cx + 8.5 * s, cy + 1.3 * s), (cx, cy - 8.6 * s)])
    return np.minimum(lobes, tip)


def heart():
    return Canvas().add(heart_sdf(0, 0.6, 1.0))


def star():
    return Canvas().add(polygon(star_points(0, -0.6, 9.8, 4.0)))


def sun():
    c = Canvas().add(disk(0, 0, 4.2))
    for k in range(8):
        t = np.deg2rad(22.5 + 45 * k)
        c.add(segment(6.0 * np.cos(t), 6.0 * np.sin(t), 8.8 * np.cos(t), 8.8 * np.sin(t), 1.5))
    return c


def moon():
    return Canvas().add(disk(0, 0, 8.4)).cut(disk(4.0, 2.4, 7.0))


def cloud():
    body = np.minimum.reduce([disk(-4.4, -1.4, 3.8), disk(0.6, 1.6, 5.2), disk(5.2, -1.8, 3.4),
                              box(0.4, -3.6, 5.6, 1.8, 1.4)])
    return Canvas().add(body)


def umbrella():
    c = Canvas().add(np.maximum(disk(0, 1.4, 8.6), -(Y - 1.4)))  # upper half-disk
    c.cut(disk(-5.8, 0.4, 3.0), disk(0, 0.4, 3.0), disk(5.8, 0.4, 3.0))  # scalloped hem
    c.add(box(0, -2.5, 1.0, 4.5))  # shaft
    return c.add(arc(-2.0, -6.6, 2.0, 180, 360, 1.6))  # handle


def house():
    c = Canvas()
    c.add(polygon([(-9.5, 1.0), (0, 9.2), (9.5, 1.0)]))  # roof
    c.add(box(0, -4.5, 6.0, 5.0))  # walls
    c.add(box(5.0, 6.0, 1.0, 3.0))  # chimney
    c.cut(box(1.5, -6.5, 1.5, 3.0), box(-3.0, -3.0, 1.0, 1.0))  # door, window
    return c


def tree():
    c = Canvas()
    c.add(polygon([(-5.0, 3.6), (0, 9.6), (5.0, 3.6)]))
    c.add(polygon([(-6.8, -1.4), (0, 5.6), (6.8, -1.4)]))
    c.add(polygon([(-8.6, -6.2), (0, 1.4), (8.6, -6.2)]))
    return c.add(box(0, -8.0, 1.5, 1.8))  # trunk


def flower():
    c = Canvas()
    for k in range(6):
        t = np.deg2rad(90 + 60 * k)
        c.add(disk(3.7 * np.cos(t), 3.0 + 3.7 * np.sin(t), 2.4))
    c.cut(ring(0, 3.0, 1.8, 1.0))  # a gap between petals and centre
    c.add(segment(0, -2.4, 0, -9.4, 1.3))  # stem
    return c.add(ellipse(3.2, -6.0, 2.8, 1.2, 35), ellipse(-3.0, -7.2, 2.6, 1.1, -35))  # leaves


def check():
    return Canvas().add(polyline([(-7.2, 0.6), (-2.6, -5.4), (7.4, 6.6)], 3.0))


def cross():
    return Canvas().add(segment(-6.6, -6.6, 6.6, 6.6, 3.0), segment(-6.6, 6.6, 6.6, -6.6, 3.0))


def lightning():
    return Canvas().add(polygon([(2.2, 9.6), (-5.8, -0.6), (-0.4, -0.4), (-2.6, -9.6),
                                 (5.8, 1.6), (0.6, 1.4), (3.8, 9.6)]))


def music():
    c = Canvas()
    c.add(ellipse(-5.0, -6.0, 2.8, 2.0, 25), ellipse(4.4, -4.2, 2.8, 2.0, 25))  # note heads
    c.add(box(-2.5, 0.5, 0.5, 6.0), box(6.5, 2.0, 0.5, 6.0))  # stems
    return c.add(polygon([(-3.2, 6.8), (7.4, 8.6), (7.4, 5.6), (-3.2, 3.8)]))  # beam


def raindrop():
    """A raindrop with a highlight."""
    c = Canvas().add(np.minimum(disk(0, -2.6, 6.0), polygon([(-5.2, -0.6), (0, 9.6), (5.2, -0.6)])))
    return c.cut(arc(0, -2.6, 3.6, 200, 260, 1.1))


def key():
    c = Canvas().add(ring(-4.4, 3.4, 3.6, 2.2))
    c.add(segment(-1.8, 0.8, 6.8, -7.8, 2.0))
    return c.add(segment(3.4, -4.4, 5.6, -2.2, 1.8), segment(5.6, -6.6, 7.8, -4.4, 1.8))


DRAWINGS = {
    "smiley": smiley, "sad": sad, "surprised": surprised, "wink": wink, "neutral": neutral,
    "angry": angry, "laughing": laughing, "sleepy": sleepy, "cool": cool, "kiss": kiss,
    "alien": alien, "robot": robot, "skull": skull, "ghost": ghost, "cat": cat,
    "heart": heart, "star": star, "sun": sun, "moon": moon, "cloud": cloud,
    "umbrella": umbrella, "house": house, "tree": tree, "flower": flower, "check": check,
    "cross": cross, "lightning": lightning, "music": music, "raindrop": raindrop, "key": key,
}


def make():
    """Returns images (N, 20, 20) float32 in [0, 1] with 1 = ink, and names (N,) unicode."""
    images = np.stack([DRAWINGS[name]().a for name in DRAWINGS]).astype(np.float32)
    names = np.array(list(DRAWINGS), dtype=np.str_)
    return images, names


def preview(images, names, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 6
    rows = -(-len(images) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 2.0, rows * 2.2))
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, name in zip(axes.flat, images, names):
        ax.imshow(img, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(name, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the .npz")
    parser.add_argument("--preview", type=Path, help="also save a labelled grid to this PNG")
    args = parser.parse_args(argv)

    images, names = make()
    flat = images.reshape(len(images), -1)
    dist = np.sqrt(((flat[:, None] - flat[None]) ** 2).sum(-1)) + np.diag(np.full(len(flat), np.inf))
    i, j = np.unravel_index(np.argmin(dist), dist.shape)
    print(f"{len(images)} images; closest pair {names[i]}/{names[j]} at L2 {dist[i, j]:.2f}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, images=images, names=names)
    print(f"wrote {args.out}")
    if args.preview:
        preview(images, names, args.preview)
        print(f"wrote {args.preview}")


if __name__ == "__main__":
    main()
