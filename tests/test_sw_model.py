"""sw.model, sw.quant and sw.pruning: shapes from the spec, Algorithm 1's quantizers, kernel pruning."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rrm.presets import load_preset
from rrm.spec import HardwareSpec, NetworkSpec, QuantSpec, Spec, unpruned
from sw.model import MobileNet, shrink
from sw.pruning import kernel_l1, prune_step, pruning_done, step_targets
from sw.quant import clip_weights_, image_to_input, quantize_activation, quantize_weight


def small_spec(**quant) -> Spec:
    network = NetworkSpec(name="small", input_size=20, input_channels=3, num_classes=7, width_multiplier=0.125,
                          blocks=((64, 1), (128, 2), (128, 1), (256, 2)),
                          pruned_channels={"dsc3": 10, "dsc5": 20})
    return Spec(network=network, quant=QuantSpec(**quant), hardware=HardwareSpec(pe_count=1, lanes=4))


def images(spec: Spec, n: int = 4, seed: int = 0) -> torch.Tensor:
    net = spec.network
    return torch.from_numpy(np.random.default_rng(seed).integers(
        0, 256, (n, net.input_size, net.input_size, net.input_channels), dtype=np.uint8))


def randomize_bn(model: torch.nn.Module, seed: int = 0) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                module.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                module.bias.copy_(torch.rand(n, generator=gen))
                module.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
                module.running_var.copy_(torch.rand(n, generator=gen) + 0.5)


@pytest.mark.parametrize("preset", ["tiny", "rr-mobilenet"])
def test_model_layers_follow_the_spec(preset):
    spec = load_preset(preset)
    model = MobileNet(spec)
    for conv, layer in zip(model.convs, [l for l in spec.layers() if l.kind in ("conv", "dw", "pw")]):
        assert conv.name == layer.name
        weight = conv.conv.weight.shape
        assert weight[0] == layer.out_channels
        assert weight[1] == (1 if layer.kind == "dw" else layer.in_channels)
        assert (conv.conv.stride[0], conv.conv.padding[0], weight[-1]) == (layer.stride, layer.kernel // 2,
                                                                            layer.kernel)
    fc = spec.layer("fc")
    assert model.fc.weight.shape == (fc.out_channels, fc.in_channels)


def test_forward_gives_logits_and_feature_maps_of_the_spec_sizes():
    spec = small_spec()
    model = MobileNet(spec).eval()
    x = images(spec, 3)
    assert model(x).shape == (3, 7)
    last = [l for l in spec.layers() if l.kind == "pw"][-1]
    assert model.features(x).shape == (3, last.out_channels, last.out_h, last.out_w)


def test_input_is_the_shifted_image_channels_first():
    quant = QuantSpec()
    pixels = torch.tensor([[[[0, 128]], [[255, 1]]]], dtype=torch.uint8)  # (1, 2, 1, 2)
    x = image_to_input(pixels, quant)
    assert x.shape == (1, 2, 2, 1)
    assert x[0, :, 0, 0].tolist() == [-1.0, 0.0]
    assert x[0, :, 1, 0].tolist() == [127 / 128, -127 / 128]


@pytest.mark.parametrize("bits, frac", [(8, 6), (4, 2), (6, 5)])
def test_weight_quantizer_rounds_to_the_grid_and_clips(bits, frac):
    quant = QuantSpec(weight_bits=bits, weight_frac=frac, clip_min=-1.0, clip_max=1.0 - 2 ** -frac)
    w = torch.linspace(-1.5, 1.5, 1001, requires_grad=True)
    q = quantize_weight(w, quant)
    scaled = q.detach() * 2 ** frac
    assert torch.equal(scaled, scaled.round())
    lo, hi = quant.weight_int_range
    assert scaled.min() == lo and scaled.max() == hi
    inside = (w.detach() * 2 ** frac >= lo - 0.5) & (w.detach() * 2 ** frac <= hi + 0.5)
    assert torch.all((q.detach() - w.detach()).abs()[inside] <= 2 ** -frac / 2 + 1e-7)
    q.sum().backward()  # straight-through: gradient 1 inside the range, 0 outside
    assert torch.equal(w.grad, inside.float()) or torch.all(w.grad[inside] == 1)
    assert torch.all(w.grad[~inside] == 0)


@pytest.mark.parametrize("bits, frac", [(4, 2), (3, 1), (8, 4)])
def test_activation_quantizer_is_relu_on_the_unsigned_grid(bits, frac):
    quant = QuantSpec(act_bits=bits, act_frac=frac)
    x = torch.linspace(-3, 2 ** (bits - frac) + 3, 999)
    q = quantize_activation(x, quant) * 2 ** frac
    assert torch.equal(q, q.round())
    assert q.min() == 0 and q.max() == 2 ** bits - 1
    assert torch.all(q[x <= 0] == 0)


def test_quantized_forward_uses_only_grid_values():
    spec = small_spec()
    model = MobileNet(spec).eval()
    randomize_bn(model)
    model.quantized = True
    seen = {}
    for conv in model.convs:
        conv.register_forward_hook(lambda m, i, o, name=conv.name: seen.__setitem__(name, (i[0], o)))
    model(images(spec))
    first_input = seen["conv1"][0] * 2 ** spec.quant.input_frac
    assert torch.equal(first_input, first_input.round())
    for name, (_, out) in seen.items():
        scaled = out * 2 ** spec.quant.act_frac
        assert torch.equal(scaled, scaled.round()), name
        assert scaled.min() >= 0 and scaled.max() <= spec.quant.act_max, name


def test_clip_keeps_weights_in_the_clip_range():
    spec = small_spec()
    model = MobileNet(spec)
    with torch.no_grad():
        for module in model.weighted_modules():
            module.weight.mul_(100)
    clip_weights_(model.weighted_modules(), spec.quant)
    for module in model.weighted_modules():
        assert module.weight.min() >= -1.0 and module.weight.max() <= 1.0
        assert module.weight.abs().max() == 1.0


def test_step_targets_go_linearly_to_the_spec():
    assert [step_targets(128, 72, 4, s) for s in (1, 2, 3, 4)] == [114, 100, 86, 72]
    assert step_targets(16, 16, 3, 2) == 16
    with pytest.raises(ValueError):
        step_targets(16, 8, 3, 4)


def test_pruning_drops_the_kernels_with_the_smallest_l1_norm():
    spec = small_spec()
    model = MobileNet(unpruned(spec))
    conv = model.layer("dsc3.pw")
    full = conv.conv.out_channels
    norms = torch.randperm(full).float() + 1.0
    with torch.no_grad():
        conv.conv.weight.copy_(torch.sign(torch.randn_like(conv.conv.weight)))
        conv.conv.weight.mul_((norms / conv.conv.weight.shape[1]).view(-1, 1, 1, 1))
    assert torch.allclose(kernel_l1(model, "dsc3.pw"), norms)
    kept = prune_step(model, spec, 1, 2)
    assert kept["dsc3"] == step_targets(full, 10, 2, 1)
    assert kept["dsc2"] == model.layer("dsc2.pw").conv.out_channels  # not pruned
    survivors = norms[conv.mask > 0]
    assert survivors.min() > norms[conv.mask == 0].max()
    first_mask = conv.mask.clone()
    prune_step(model, spec, 2, 2)
    assert int(conv.mask.sum()) == 10
    assert torch.all(conv.mask <= first_mask), "a pruned kernel came back"
    assert pruning_done(model, spec)


@pytest.mark.parametrize("quantized", [False, True])
def test_shrink_keeps_the_function_and_has_the_spec_channel_counts(quantized):
    spec = small_spec()
    model = MobileNet(unpruned(spec)).eval()
    randomize_bn(model, 3)
    prune_step(model, spec, 1, 1)
    model.quantized = quantized
    small = shrink(model, spec).eval()
    assert small.quantized == quantized
    for conv, layer in zip(small.convs, [l for l in spec.layers() if l.kind in ("conv", "dw", "pw")]):
        assert conv.conv.out_channels == layer.out_channels
        assert conv.conv.in_channels == layer.in_channels
    assert small.layer("dsc4.dw").conv.out_channels == 10
    assert small.layer("dsc4.pw").conv.in_channels == 10
    assert small.fc.in_features == 20
    x = images(spec, 6, seed=2)
    with torch.no_grad():
        torch.testing.assert_close(small(x), model(x), rtol=1e-5, atol=1e-5)


def test_shrink_refuses_masks_that_do_not_match_the_spec():
    spec = small_spec()
    model = MobileNet(unpruned(spec))
    with pytest.raises(ValueError, match="dsc3.pw: mask keeps 16 channels, spec wants 10"):
        shrink(model, spec)
