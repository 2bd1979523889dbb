"""Activity regularizers (issue 15): the NumPy side (regularizers.py) against the twins and
torch; the C penalties inside training steps are checked in the model tests below."""
import numpy as np
import pytest

import twins
from sia_autoencoder import regularizers as R

REGS = [R.L1(0.03), R.L2(0.2), R.KLSparsity(target=0.2, weight=0.7)]


def _acts(rng, reg, B=7, n=5):
    """Outputs in (0, 1) for KLSparsity, of both signs (away from 0) for L1 and L2."""
    a = rng.uniform(0.02, 0.98, size=(B, n))
    return a if isinstance(reg, R.KLSparsity) else a * rng.choice([-1.0, 1.0], size=(B, n))


@pytest.mark.parametrize("reg", REGS, ids=lambda r: type(r).__name__)
def test_penalty_and_gradient_match_twins(rng, reg):
    a = _acts(rng, reg)
    code, ra, rb = reg.record_fields()
    assert reg.penalty(a) == pytest.approx(twins.reg_penalty(a, code, ra, rb), rel=1e-14)
    np.testing.assert_allclose(reg.gradient(a), twins.reg_grad(a, code, ra, rb), rtol=1e-14)


@pytest.mark.parametrize("reg", REGS, ids=lambda r: type(r).__name__)
def test_gradient_matches_finite_differences(rng, reg):
    a = _acts(rng, reg)
    g, h = reg.gradient(a), 1e-6
    fd = np.empty_like(a)
    for i in np.ndindex(a.shape):
        up, down = a.copy(), a.copy()
        up[i] += h
        down[i] -= h
        fd[i] = (reg.penalty(up) - reg.penalty(down)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("reg", REGS, ids=lambda r: type(r).__name__)
def test_penalty_and_gradient_match_torch(rng, reg):
    torch = pytest.importorskip("torch")
    a = _acts(rng, reg)
    t = torch.tensor(a, requires_grad=True)
    B = a.shape[0]
    if isinstance(reg, R.L1):
        p = reg.l1 * t.abs().sum() / B
    elif isinstance(reg, R.L2):
        p = reg.l2 * (t * t).sum() / B
    else:  # KL(ρ ‖ ρ̂) of Bernoulli means, as torch's kl_div writes it
        rho, m = torch.tensor(reg.target, dtype=torch.float64), t.mean(dim=0)
        p = reg.weight * (torch.nn.functional.kl_div(m.log(), rho.expand_as(m), reduction="sum")
                          + torch.nn.functional.kl_div((1 - m).log(), (1 - rho).expand_as(m),
                                                       reduction="sum"))
    p.backward()
    assert reg.penalty(a) == pytest.approx(p.item(), rel=1e-12)
    np.testing.assert_allclose(reg.gradient(a), t.grad.numpy(), rtol=1e-12)


def test_conventions_and_checks():
    a = np.array([[0.5, -1.0], [0.0, 2.0]])
    assert R.L1(1.0).penalty(a) == 1.75           # mean over samples of Σ|a|
    assert R.L2(1.0).penalty(a) == (0.25 + 1 + 4) / 2
    np.testing.assert_array_equal(R.L1(1.0).gradient(a), [[0.5, -0.5], [0.0, 0.5]])  # sign(0) = 0
    kl = R.KLSparsity(target=0.25, weight=1.0)
    assert kl.penalty(np.full((3, 4), 0.25)) == 0  # ρ̂ = ρ: no penalty, not divided by B
    assert kl.penalty(np.full((3, 4), 0.5)) == pytest.approx(
        4 * (0.25 * np.log(0.5) + 0.75 * np.log(1.5)), rel=1e-14)
    assert np.isfinite(kl.penalty(np.zeros((2, 3))))  # ρ̂ = 0 is clamped to 1e-7
    with pytest.raises(ValueError, match=r"KLSparsity.target: expected a number in \(0, 1\), got 1"):
        R.KLSparsity(target=1)
    with pytest.raises(ValueError, match=r"L1.l1: expected a number in \[0, inf\), got -1"):
        R.L1(-1)
    for reg in REGS:
        assert R.get(R.to_config(reg)) == reg
    assert R.get("l1") == R.L1() and R.get(None) is None
    with pytest.raises(ValueError, match="activity_regularizer.type: expected one of"):
        R.get({"type": "L3"})
