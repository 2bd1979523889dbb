"""Epochs of the convolutional workloads of issue 17 in sia against PyTorch eager.

D, the UNSAM convolutional autoencoder (issue 14), on 28×28×1 Fashion-MNIST images, channels
last in sia, NCHW in PyTorch:
    Conv2D 32 3×3 same relu, MaxPool 2, Conv2D 32 same relu, MaxPool 2        -> (7, 7, 32)
    Conv2D 32 same relu, UpSampling 2, Conv2D 32 same relu, UpSampling 2,
    Conv2D 1 same sigmoid                                                     -> (28, 28, 1)
E, the Keras blog's convolutional autoencoder (16-8-8 filters, three pools, three upsamplings),
and F, the Keras examples' convolutional VAE with a 2-D latent space (see keras_blog and
conv_vae below). BCE (summed over pixels, averaged over the batch; F adds the KL term), Adam
(lr 1e-3), batch 128. PyTorch gets the same initial weights (``get_weights()`` gives them in
PyTorch's shapes), the same dtype and the same number of threads (``torch.set_num_threads``);
each thread count runs in its own process. Both warm up on 4 batches, then train --runs epochs
on; prints the median time of an epoch, images per second, the ratio, and each one's mean loss
over its last epoch (a check that both train alike: they differ by their shuffles and rounding
only). bench/run_benchmarks.py runs the same models (sia_model, TorchConv) in its suite.

    python bench/bench_conv.py                          # D, 10,000 images, 1 and 2 threads
    python bench/bench_conv.py --n 60000 --runs 1       # one full epoch of Fashion-MNIST
    python bench/bench_conv.py --net F --threads 1      # the VAE
"""
import argparse
import os
import subprocess
import sys
import time


def unsam(L):
    """Workload D: the issue's network, as sia layers."""
    encoder = [L.Conv2D(32, 3, padding="same", activation="relu"), L.MaxPool2D(2),
               L.Conv2D(32, 3, padding="same", activation="relu"), L.MaxPool2D(2)]
    decoder = [L.Conv2D(32, 3, padding="same", activation="relu"), L.UpSampling2D(2),
               L.Conv2D(32, 3, padding="same", activation="relu"), L.UpSampling2D(2),
               L.Conv2D(1, 3, padding="same", activation="sigmoid")]
    return encoder, decoder


def keras_blog(L):
    """Workload E: the convolutional autoencoder of the Keras blog ("Building Autoencoders in
    Keras"), 16-8-8 filters, three 'same' pools to (4, 4, 8) and three upsamplings back."""
    encoder = [L.Conv2D(16, 3, padding="same", activation="relu"), L.MaxPool2D(2, padding="same"),
               L.Conv2D(8, 3, padding="same", activation="relu"), L.MaxPool2D(2, padding="same"),
               L.Conv2D(8, 3, padding="same", activation="relu"), L.MaxPool2D(2, padding="same")]
    decoder = [L.Conv2D(8, 3, padding="same", activation="relu"), L.UpSampling2D(2),
               L.Conv2D(8, 3, padding="same", activation="relu"), L.UpSampling2D(2),
               L.Conv2D(16, 3, activation="relu"), L.UpSampling2D(2),
               L.Conv2D(1, 3, padding="same", activation="sigmoid")]
    return encoder, decoder


def conv_vae(L):
    """Workload F: the convolutional VAE of the Keras examples ("Variational AutoEncoder"), 2-D
    latent space: two stride-2 convolutions, Dense 16, the [μ | log σ²] head (the VAE adds it),
    then Dense 7·7·64 and three transposed convolutions back to (28, 28, 1)."""
    encoder = [L.Conv2D(32, 3, strides=2, padding="same", activation="relu"),
               L.Conv2D(64, 3, strides=2, padding="same", activation="relu"),
               L.Flatten(), L.Dense(16, activation="relu")]
    decoder = [L.Dense(7 * 7 * 64, activation="relu"), L.Reshape((7, 7, 64)),
               L.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu"),
               L.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu"),
               L.Conv2DTranspose(1, 3, padding="same", activation="sigmoid")]
    return encoder, decoder


NETWORKS = {"D": unsam, "E": keras_blog, "F": conv_vae}


def sia_model(name, dtype, threads, seed=0):
    """The sia model of workload D, E or F (Adam, lr 1e-3, BCE; F is a VAE with a 2-D latent)."""
    from sia_autoencoder import VAE, Autoencoder, layers as L
    encoder, decoder = NETWORKS[name](L)
    common = dict(input_shape=(28, 28, 1), loss="bce", optimizer="adam", learning_rate=1e-3,
                  dtype=dtype, seed=seed, threads=threads)
    if name == "F":
        return VAE(encoder=encoder, latent_dim=2, decoder=decoder, activation="relu",
                   output_activation="sigmoid", **common)
    return Autoencoder(encoder=encoder, decoder=decoder, **common)


def torch_unsam(torch, weights, dtype):
    """The same network in torch.nn with sia's weights (PyTorch shapes); it outputs the logits
    (the sigmoid is in the loss, as sia computes BCE from the pre-activation)."""
    nn = torch.nn
    convs = [nn.Conv2d(1, 32, 3, padding=1), nn.Conv2d(32, 32, 3, padding=1),
             nn.Conv2d(32, 32, 3, padding=1), nn.Conv2d(32, 32, 3, padding=1),
             nn.Conv2d(32, 1, 3, padding=1)]
    _load(torch, convs, weights, dtype)
    net = nn.Sequential(convs[0], nn.ReLU(), nn.MaxPool2d(2), convs[1], nn.ReLU(), nn.MaxPool2d(2),
                        convs[2], nn.ReLU(), nn.Upsample(scale_factor=2, mode="nearest"),
                        convs[3], nn.ReLU(), nn.Upsample(scale_factor=2, mode="nearest"), convs[4])
    return net.to(dtype)


def torch_keras_blog(torch, weights, dtype):
    """Workload E in torch.nn: Keras's 'same' pooling of 7 rows to 4 is ceil_mode."""
    nn = torch.nn
    convs = [nn.Conv2d(1, 16, 3, padding=1), nn.Conv2d(16, 8, 3, padding=1),
             nn.Conv2d(8, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1),
             nn.Conv2d(8, 8, 3, padding=1), nn.Conv2d(8, 16, 3), nn.Conv2d(16, 1, 3, padding=1)]
    _load(torch, convs, weights, dtype)
    up = lambda: nn.Upsample(scale_factor=2, mode="nearest")  # noqa: E731
    pool = lambda: nn.MaxPool2d(2, ceil_mode=True)  # noqa: E731
    net = nn.Sequential(convs[0], nn.ReLU(), pool(), convs[1], nn.ReLU(), pool(), convs[2], nn.ReLU(),
                        pool(), convs[3], nn.ReLU(), up(), convs[4], nn.ReLU(), up(), convs[5],
                        nn.ReLU(), up(), convs[6])
    return net.to(dtype)


class TorchConvVAE:
    """Workload F in torch.nn, with sia's weights. Keras's 'same' for a stride of 2 pads (and
    crops) one row and column at the bottom and right only, so the convolutions pad explicitly
    and the transposed ones crop their full output; the dense layers next to the channels-last
    Flatten and Reshape of sia take its weights with their columns (rows) permuted to NCHW."""

    def __init__(self, torch, weights, dtype):
        nn = self.nn = torch.nn
        self.torch = torch
        c1, c2 = nn.Conv2d(1, 32, 3, stride=2), nn.Conv2d(32, 64, 3, stride=2)
        d1, head, d2 = nn.Linear(3136, 16), nn.Linear(16, 4), nn.Linear(2, 3136)
        t1 = nn.ConvTranspose2d(64, 64, 3, stride=2)
        t2 = nn.ConvTranspose2d(64, 32, 3, stride=2)
        t3 = nn.ConvTranspose2d(32, 1, 3, padding=1)
        w = list(weights)
        w[4] = w[4].reshape(16, 7, 7, 64).transpose(0, 3, 1, 2).reshape(16, 3136)  # NCHW columns
        w[8] = w[8].reshape(7, 7, 64, 2).transpose(2, 0, 1, 3).reshape(3136, 2)   # NCHW rows
        w[9] = w[9].reshape(7, 7, 64).transpose(2, 0, 1).reshape(3136)
        self.modules = [c1, c2, d1, head, d2, t1, t2, t3]
        _load(torch, self.modules, w, dtype)
        self.gen = torch.Generator().manual_seed(0)
        self.dtype = dtype

    def parameters(self):
        return [p for m in self.modules for p in m.parameters()]

    def loss(self, x):
        F = self.torch.nn.functional
        c1, c2, d1, head, d2, t1, t2, t3 = self.modules
        h = F.relu(c2(F.pad(F.relu(c1(F.pad(x, (0, 1, 0, 1)))), (0, 1, 0, 1))))
        h = head(F.relu(d1(h.flatten(1))))
        mu, logvar = h[:, :2], h[:, 2:]
        std = self.torch.exp(0.5 * logvar)
        eps = self.torch.randn(mu.shape, generator=self.gen, dtype=self.dtype)
        y = F.relu(d2(mu + std * eps)).view(-1, 64, 7, 7)
        y = F.relu(t1(y)[:, :, :14, :14])
        y = F.relu(t2(y)[:, :, :28, :28])
        logits = t3(y)
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kl = -0.5 * self.torch.sum(1 + logvar - mu * mu - std * std)
        return (recon + kl) / x.shape[0]


def _load(torch, modules, weights, dtype):
    """Module k gets weights 2k and 2k + 1, in dtype (converted first: a float32 module would
    round float64 weights)."""
    with torch.no_grad():
        for k, m in enumerate(modules):
            m.to(dtype)
            m.weight.copy_(torch.from_numpy(weights[2 * k]))
            m.bias.copy_(torch.from_numpy(weights[2 * k + 1]))


class TorchConv:
    """Workload D, E or F in PyTorch eager with sia's weights: Adam (lr 1e-3), BCE from the
    logits summed over pixels and averaged over the batch (plus KL for F); ``fit`` trains on X
    (n, 28, 28, 1) in its stored order, or in a permutation of ``gen`` when given."""

    def __init__(self, torch, name, weights, dtype):
        self.torch = torch
        tdtype = getattr(torch, dtype)
        if name == "F":
            self.vae = TorchConvVAE(torch, weights, tdtype)
            params = self.vae.parameters()
        else:
            self.net = (torch_unsam if name == "D" else torch_keras_blog)(torch, weights, tdtype)
            params = self.net.parameters()
        self.name, self.opt = name, torch.optim.Adam(params, lr=1e-3)

    def step(self, x):
        self.opt.zero_grad(set_to_none=True)
        if self.name == "F":
            loss = self.vae.loss(x)
        else:
            F = self.torch.nn.functional
            loss = F.binary_cross_entropy_with_logits(self.net(x), x, reduction="sum") / x.shape[0]
        loss.backward()
        self.opt.step()
        return loss.item()

    def fit(self, X, epochs, batch, gen=None):
        """Mean loss of the last epoch."""
        Xt = self.torch.from_numpy(X.transpose(0, 3, 1, 2).copy())
        total = 0.0
        for _ in range(epochs):
            order = self.torch.from_numpy(gen.permutation(len(Xt))) if gen is not None else None
            total = 0.0
            for i in range(0, len(Xt), batch):
                x = Xt[order[i:i + batch]] if order is not None else Xt[i:i + batch]
                total += self.step(x) * x.shape[0]
        return total / len(Xt)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--net", choices=sorted(NETWORKS), default="D", help="workload (default D)")
    p.add_argument("--n", type=int, default=10000, help="training images (default 10000)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--runs", type=int, default=3, help="epochs timed, the median is reported")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--no-torch", action="store_true", help="time sia only")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="wall: perf_counter; cpu: process time (steadier on a shared machine, "
                        "only meaningful with --threads 1)")
    args = p.parse_args()
    if len(args.threads) > 1:  # each thread count in its own process
        for t in args.threads:
            cmd = [sys.executable, __file__, "--net", args.net, "--n", str(args.n), "--batch", str(args.batch), "--runs",
                   str(args.runs), "--dtype", args.dtype, "--clock", args.clock, "--threads", str(t)]
            subprocess.run(cmd + (["--no-torch"] if args.no_torch else []), check=True)
        return
    threads = args.threads[0]
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    import numpy as np
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:0] = [os.path.dirname(here)]
    from sia_autoencoder import datasets

    X = datasets.load_fashion_mnist()[0][:args.n].astype(args.dtype)[..., None]  # (n, 28, 28, 1)
    ae = sia_model(args.net, args.dtype, threads)
    weights = [w.astype(args.dtype) for w in ae.get_weights()]
    ae.fit(X[:4 * args.batch], epochs=1, batch_size=args.batch)  # warm up, as torch below
    t_sia = []
    for _ in range(args.runs):
        t0 = clock()
        loss_sia = ae.fit(X, epochs=1, batch_size=args.batch).history["loss"][-1]
        t_sia.append(clock() - t0)
    med = sorted(t_sia)[len(t_sia) // 2]
    line = (f"{args.net} threads={threads} {args.dtype} n={args.n} batch={args.batch} clock={args.clock}: sia {med:.2f} s/epoch "
            f"({args.n / med:,.0f} img/s, loss {loss_sia:.2f})")
    if not args.no_torch:
        import torch
        torch.set_num_threads(threads)
        model = TorchConv(torch, args.net, weights, args.dtype)
        gen = np.random.default_rng(0)
        model.fit(X[:4 * args.batch], 1, args.batch, gen)  # warm up
        t_torch, loss_t = [], float("nan")
        for _ in range(args.runs):
            t0 = clock()
            loss_t = model.fit(X, 1, args.batch, gen)
            t_torch.append(clock() - t0)
        tmed = sorted(t_torch)[len(t_torch) // 2]
        line += (f" | torch {torch.__version__} {tmed:.2f} s/epoch ({args.n / tmed:,.0f} img/s, "
                 f"loss {loss_t:.2f}) | sia is {tmed / med:.2f}x torch")
    print(line, flush=True)


if __name__ == "__main__":
    main()
