"""sw.export: BN folding into (m, b, s), the FC fold, and agreement with the QAT model layer by layer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rrm.artifact import Artifact, load_artifact, validate_params
from rrm.numerics import signed_range
from rrm.spec import HardwareSpec, NetworkSpec, QuantSpec, Spec
from sw import int_emulation
from sw.export import export_model, fold_bn, integer_params
from sw.model import MobileNet


def small_spec() -> Spec:
    network = NetworkSpec(name="small", input_size=16, input_channels=1, num_classes=5, width_multiplier=0.125,
                          blocks=((64, 1), (128, 2), (128, 1)))
    return Spec(network=network, quant=QuantSpec(), hardware=HardwareSpec(pe_count=1, lanes=4))


def trained_looking_model(spec: Spec, seed: int = 0) -> MobileNet:
    """Random weights, BN statistics measured on random images (as training would leave them)."""
    torch.manual_seed(seed)
    model = MobileNet(spec)
    model.quantized = True
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for conv in model.convs:
            conv.bn.weight.copy_(torch.rand(conv.bn.num_features, generator=gen) * 1.5 + 0.25)
            conv.bn.bias.copy_(torch.rand(conv.bn.num_features, generator=gen) * 1.5 + 0.25)
            conv.bn.momentum = None  # cumulative average
        model.fc.bias.copy_(torch.randn(model.fc.out_features, generator=gen))
        model.train()
        net = spec.network
        pixels = torch.randint(0, 256, (64, net.input_size, net.input_size, net.input_channels),
                               generator=gen, dtype=torch.uint8)
        model(pixels)
    return model.eval()


@pytest.mark.parametrize("mult_bits, bias_bits", [(16, 32), (8, 20), (12, 24)])
def test_fold_bn_uses_the_largest_shift_that_fits(mult_bits, bias_bits):
    rng = np.random.default_rng(mult_bits)
    slope = rng.uniform(-0.05, 0.2, 20)
    offset = rng.uniform(-8, 8, 20)
    mult, bias, shift = fold_bn(slope, offset, mult_bits, bias_bits)
    mlo, mhi = signed_range(mult_bits)
    blo, bhi = signed_range(bias_bits)
    assert mlo <= mult.min() and mult.max() <= mhi and blo <= bias.min() and bias.max() <= bhi
    # One more bit of shift would overflow the multiplier or the bias.
    assert (np.abs(slope).max() * 2.0 ** (shift + 1) > mhi - 0.5
            or np.abs(offset).max() * 2.0 ** (shift + 1) > bhi - 0.5)
    acc = np.arange(-2000, 2000)[:, None]
    rounding = 1 << (shift - 1) if shift > 0 else 0
    integer = (acc * mult + bias + rounding) >> shift
    exact = slope * acc + offset
    assert np.abs(integer - exact).max() <= 0.5 + np.abs(acc).max() * 2.0 ** -shift + 2.0 ** -shift


def test_fold_bn_refuses_what_cannot_fit():
    with pytest.raises(Exception, match="cannot be folded"):
        fold_bn(np.array([1e9]), np.array([0.0]), 16, 32)


def test_each_exported_layer_matches_the_qat_layer():
    """Feed every QAT layer the integer model's own input: outputs agree on (almost) every value."""
    spec = small_spec()
    model = trained_looking_model(spec)
    artifact = Artifact(spec, validate_params(spec, integer_params(model, spec)), {})
    pixels = np.random.default_rng(7).integers(0, 256, (16, 16, 16, 1), dtype=np.uint8)
    logits, trace = int_emulation.run(artifact, pixels, trace=True)
    quant = spec.quant
    current = (torch.from_numpy(pixels).float() - 128).permute(0, 3, 1, 2) * 2.0 ** -quant.input_frac
    spread = []
    with torch.no_grad():
        for conv in model.convs:
            out = conv(current, True) * 2.0 ** quant.act_frac
            expected = torch.from_numpy(trace[conv.name]).permute(0, 3, 1, 2).double()
            diff = (out.double() - expected).abs()
            assert diff.max() <= 1, conv.name
            assert (diff > 0).float().mean() < 0.005, conv.name
            spread.append(len(torch.unique(expected)))
            current = expected.float() * 2.0 ** -quant.act_frac
        assert max(spread) >= 8, "activations are not spread: the comparison would prove little"
        pooled = current.mean(dim=(2, 3))
        float_logits = torch.nn.functional.linear(pooled, model.fc_weight(), model.fc.bias).double()
    pool = spec.layer("pool")
    scale = pool.in_h * pool.in_w * 2.0 ** (quant.weight_frac + quant.act_frac)
    np.testing.assert_allclose(logits / scale, float_logits.numpy(), atol=0.5 / scale + 1e-6)


def test_export_model_writes_a_valid_artifact_that_tracks_the_model(tmp_path):
    spec = small_spec()
    model = trained_looking_model(spec, seed=1)
    path = export_model(model, spec, tmp_path / "art", metrics={"note": 1})
    artifact = load_artifact(path)
    assert artifact.metrics == {"note": 1}
    pixels = np.random.default_rng(3).integers(0, 256, (64, 16, 16, 1), dtype=np.uint8)
    with torch.no_grad():
        predicted = model(torch.from_numpy(pixels)).argmax(1).numpy()
    agree = (int_emulation.predict(artifact, pixels) == predicted).mean()
    assert agree >= 0.9
    mults = np.concatenate([artifact.params[k] for k in artifact.params if k.endswith(".bn_mult")])
    assert np.abs(mults).max() >= 1 << (spec.quant.bn_mult_bits - 2)
