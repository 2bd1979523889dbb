"""One epoch of the UNSAM convolutional autoencoder (issue 14) in sia against PyTorch eager.

The network (28×28×1 Fashion-MNIST images, channels last in sia, NCHW in PyTorch):
    Conv2D 32 3×3 same relu, MaxPool 2, Conv2D 32 same relu, MaxPool 2        -> (7, 7, 32)
    Conv2D 32 same relu, UpSampling 2, Conv2D 32 same relu, UpSampling 2,
    Conv2D 1 same sigmoid                                                     -> (28, 28, 1)
BCE (summed over pixels, averaged over the batch), Adam (lr 1e-3), batch 128. PyTorch gets the
same initial weights (``get_weights()`` gives them in PyTorch's shapes), the same dtype and the
same number of threads (``torch.set_num_threads``); each thread count runs in its own process.
Prints the median time of one epoch over --runs epochs, images per second, the ratio, and the
loss of each after its epochs (a check that both train).

    python bench/bench_conv.py                          # 10,000 images, 1 and 2 threads
    python bench/bench_conv.py --n 60000 --runs 1       # one full epoch of Fashion-MNIST
"""
import argparse
import os
import subprocess
import sys
import time


def unsam(L):
    """The issue's network, as sia layers."""
    encoder = [L.Conv2D(32, 3, padding="same", activation="relu"), L.MaxPool2D(2),
               L.Conv2D(32, 3, padding="same", activation="relu"), L.MaxPool2D(2)]
    decoder = [L.Conv2D(32, 3, padding="same", activation="relu"), L.UpSampling2D(2),
               L.Conv2D(32, 3, padding="same", activation="relu"), L.UpSampling2D(2),
               L.Conv2D(1, 3, padding="same", activation="sigmoid")]
    return encoder, decoder


def torch_unsam(torch, weights, dtype):
    """The same network in torch.nn with sia's weights (PyTorch shapes); it outputs the logits
    (the sigmoid is in the loss, as sia computes BCE from the pre-activation)."""
    nn = torch.nn
    convs = [nn.Conv2d(1, 32, 3, padding=1), nn.Conv2d(32, 32, 3, padding=1),
             nn.Conv2d(32, 32, 3, padding=1), nn.Conv2d(32, 32, 3, padding=1),
             nn.Conv2d(32, 1, 3, padding=1)]
    with torch.no_grad():
        for k, conv in enumerate(convs):
            conv.weight.copy_(torch.from_numpy(weights[2 * k]))
            conv.bias.copy_(torch.from_numpy(weights[2 * k + 1]))
    net = nn.Sequential(convs[0], nn.ReLU(), nn.MaxPool2d(2), convs[1], nn.ReLU(), nn.MaxPool2d(2),
                        convs[2], nn.ReLU(), nn.Upsample(scale_factor=2, mode="nearest"),
                        convs[3], nn.ReLU(), nn.Upsample(scale_factor=2, mode="nearest"), convs[4])
    return net.to(dtype)


def torch_epoch(torch, net, opt, X, batch, gen):
    F = torch.nn.functional
    total = 0.0
    order = torch.from_numpy(gen.permutation(X.shape[0]))
    for i in range(0, X.shape[0], batch):
        x = X[order[i:i + batch]]
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(net(x), x, reduction="sum") / x.shape[0]
        loss.backward()
        opt.step()
        total += loss.item() * x.shape[0]
    return total / X.shape[0]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=10000, help="training images (default 10000)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--runs", type=int, default=3, help="epochs timed, the median is reported")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--no-torch", action="store_true", help="time sia only")
    args = p.parse_args()
    if len(args.threads) > 1:  # each thread count in its own process
        for t in args.threads:
            cmd = [sys.executable, __file__, "--n", str(args.n), "--batch", str(args.batch), "--runs",
                   str(args.runs), "--dtype", args.dtype, "--threads", str(t)]
            subprocess.run(cmd + (["--no-torch"] if args.no_torch else []), check=True)
        return
    threads = args.threads[0]
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    import numpy as np
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:0] = [os.path.dirname(here)]
    from sia_autoencoder import Autoencoder, datasets, layers as L

    X = datasets.load_fashion_mnist()[0][:args.n].astype(args.dtype)[..., None]  # (n, 28, 28, 1)
    encoder, decoder = unsam(L)
    ae = Autoencoder(encoder=encoder, decoder=decoder, input_shape=(28, 28, 1), loss="bce",
                     optimizer="adam", dtype=args.dtype, seed=0, threads=threads)
    weights = [w.astype(args.dtype) for w in ae.get_weights()]
    ae.fit(X[:4 * args.batch], epochs=1, batch_size=args.batch)  # warm up (threads, pages)
    ae.set_weights(weights)
    t_sia = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        ae.fit(X, epochs=1, batch_size=args.batch)
        t_sia.append(time.perf_counter() - t0)
    loss_sia = ae.history_["loss"][-1] if isinstance(ae.history_, dict) else float("nan")
    med = sorted(t_sia)[len(t_sia) // 2]
    line = (f"threads={threads} {args.dtype} n={args.n} batch={args.batch}: sia {med:.2f} s/epoch "
            f"({args.n / med:,.0f} img/s, loss {loss_sia:.2f})")
    if not args.no_torch:
        import torch
        torch.set_num_threads(threads)
        tdtype = torch.float32 if args.dtype == "float32" else torch.float64
        net = torch_unsam(torch, weights, tdtype)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        Xt = torch.from_numpy(np.ascontiguousarray(X.transpose(0, 3, 1, 2)))
        gen = np.random.default_rng(0)
        torch_epoch(torch, net, opt, Xt[:4 * args.batch], args.batch, gen)  # warm up
        t_torch, loss_t = [], float("nan")
        for _ in range(args.runs):
            t0 = time.perf_counter()
            loss_t = torch_epoch(torch, net, opt, Xt, args.batch, gen)
            t_torch.append(time.perf_counter() - t0)
        tmed = sorted(t_torch)[len(t_torch) // 2]
        line += (f" | torch {torch.__version__} {tmed:.2f} s/epoch ({args.n / tmed:,.0f} img/s, "
                 f"loss {loss_t:.2f}) | sia is {tmed / med:.2f}x torch")
    print(line, flush=True)


if __name__ == "__main__":
    main()
