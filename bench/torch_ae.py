"""The PyTorch CPU eager versions of the benchmark trainings (bench/run_benchmarks.py), written
as a PyTorch user would: nn.Linear stacks, torch.optim.Adam with its defaults, the loss summed
over features and averaged over the batch, BCE from the logits. The weights are copied in, so
they start where sia_autoencoder and bench/numpy_ae.py start.

Importing this module needs torch; run_benchmarks.py skips the system when it is missing.
"""
import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["TorchAutoencoder", "TorchVAE"]

_ACTS = {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "relu": nn.ReLU, "linear": nn.Identity}


def _stack(weights, acts, dtype):
    """nn.Sequential of Linear(W, b) + activation per layer, with the weights copied in."""
    layers = []
    for (W, b), act in zip(weights, acts):
        lin = nn.Linear(W.shape[1], W.shape[0], dtype=dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(b))
        layers += [lin, _ACTS[act]()]
    return nn.Sequential(*layers)


class TorchAutoencoder:
    """acts[-1] is the output activation; with loss 'bce' the model ends in logits and the loss
    is binary_cross_entropy_with_logits."""

    def __init__(self, weights, acts, loss, lr=1e-3, dtype="float32"):
        self.dtype = getattr(torch, dtype)
        out = "linear" if loss == "bce" else acts[-1]
        self.model = _stack(weights, list(acts[:-1]) + [out], self.dtype)
        self.loss = loss
        self.opt = torch.optim.Adam(self.model.parameters(), lr=lr)

    def train_step(self, x):
        B = x.shape[0]
        self.opt.zero_grad(set_to_none=True)
        out = self.model(x)
        if self.loss == "bce":
            loss = F.binary_cross_entropy_with_logits(out, x, reduction="sum") / B
        else:
            loss = ((out - x) ** 2).sum() / B
        loss.backward()
        self.opt.step()
        return loss.item()

    def fit(self, X, epochs, batch):
        """X: a numpy array; ``epochs`` epochs in order (no shuffle)."""
        X = torch.from_numpy(X).to(self.dtype)
        n = X.shape[0]
        total = 0.0
        for _ in range(epochs):
            total = 0.0
            for s in range(0, n, batch):
                xb = X[s:s + batch]
                total += self.train_step(xb) * xb.shape[0]
        return total / n


class TorchVAE:
    """Encoder, one head giving [μ, log σ²], reparameterization, decoder ending in logits;
    loss = BCE + KL, summed over features, averaged over the batch.
    weights as in bench/numpy_ae.py: {"encoder": [...], "head": (W, b), "decoder": [...]}."""

    def __init__(self, weights, hidden, lr=1e-3, dtype="float32", seed=0):
        self.dtype = getattr(torch, dtype)
        enc, head, dec = weights["encoder"], weights["head"], weights["decoder"]
        self.encoder = _stack(enc + [head], [hidden] * len(enc) + ["linear"], self.dtype)
        self.decoder = _stack(dec, [hidden] * (len(dec) - 1) + ["linear"], self.dtype)
        self.latent = head[0].shape[0] // 2
        params = list(self.encoder.parameters()) + list(self.decoder.parameters())
        self.opt = torch.optim.Adam(params, lr=lr)
        self.gen = torch.Generator().manual_seed(seed)

    def train_step(self, x):
        B, k = x.shape[0], self.latent
        self.opt.zero_grad(set_to_none=True)
        h = self.encoder(x)
        mu, logvar = h[:, :k], h[:, k:]
        std = torch.exp(0.5 * logvar)
        eps = torch.randn(B, k, generator=self.gen, dtype=self.dtype)
        logits = self.decoder(mu + std * eps)
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kl = -0.5 * torch.sum(1 + logvar - mu * mu - std * std)
        loss = (recon + kl) / B
        loss.backward()
        self.opt.step()
        return loss.item()

    def fit(self, X, epochs, batch):
        X = torch.from_numpy(X).to(self.dtype)
        n = X.shape[0]
        total = 0.0
        for _ in range(epochs):
            total = 0.0
            for s in range(0, n, batch):
                xb = X[s:s + batch]
                total += self.train_step(xb) * xb.shape[0]
        return total / n
