"""Weights files: int8 kernels round-trip within half a step, the shipped int8 file is small and loads, and
float16 files of the earlier format still load."""

from __future__ import annotations

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from SegQualityReviewLib.quality import DEFAULT_WEIGHTS, load_bundle
from SegQualityReviewLib.quality.encoding import EncodingConfig
from SegQualityReviewLib.quality.model import ModelConfig, QualityNet
from SegQualityReviewLib.quality.weights import (
    EstimatorBundle,
    WeightsError,
    dequantize_int8,
    quantize_int8,
    save_bundle,
)

SHIPPED_LIMIT_BYTES = 5_000_000


def test_int8_round_trip_stays_within_half_a_step_per_output_channel():
    torch.manual_seed(0)
    kernel = torch.randn(16, 8, 3, 3) * torch.logspace(-4, 1, 16).reshape(16, 1, 1, 1)
    kernel[3] = 0.0
    quantized, scale = quantize_int8(kernel)
    assert quantized.dtype == torch.int8 and scale.shape == (16,)
    restored = dequantize_int8(quantized, scale)
    error = (restored - kernel).abs().reshape(16, -1).amax(dim=1)
    assert torch.all(error <= scale / 2 * (1 + 1e-5))
    assert torch.equal(restored[3], kernel[3])
    peak = quantized.reshape(16, -1).abs().amax(dim=1)
    assert peak[3] == 0 and torch.all(peak[torch.arange(16) != 3] == 127)  # full range on every row
    relative = error / kernel.abs().reshape(16, -1).amax(dim=1).clamp_min(1e-30)
    assert relative[torch.arange(16) != 3].max() <= 0.5 / 127 + 1e-6  # small and large rows alike


def test_the_shipped_file_is_int8_under_5_mb_and_loads():
    assert DEFAULT_WEIGHTS.stat().st_size < SHIPPED_LIMIT_BYTES
    with safe_open(str(DEFAULT_WEIGHTS), framework="pt") as handle:
        assert handle.metadata()["format"] == "2"
    tensors = load_file(str(DEFAULT_WEIGHTS))
    int8 = [name for name, t in tensors.items() if t.dtype == torch.int8]
    assert sum(tensors[n].numel() for n in int8) > 3_000_000  # most of the 3.37 M weights
    assert all(tensors[n + ".scale"].dtype == torch.float32 for n in int8)
    bundle = load_bundle()
    assert all(t.dtype != torch.int8 for t in bundle.model.state_dict().values())
    assert not bundle.calibration.is_identity and 0.0 < bundle.interval_half_width < 1.0


def test_a_float16_file_of_the_earlier_format_still_loads(tmp_path):
    shipped = load_bundle()
    path = save_bundle(shipped, tmp_path / "float16.safetensors")
    with safe_open(str(path), framework="pt") as handle:
        assert handle.metadata()["format"] == "1"
    assert {t.dtype for t in load_file(str(path)).values()} == {torch.float16}
    reloaded = load_bundle(path)
    assert reloaded.calibration == shipped.calibration
    for name, tensor in shipped.model.state_dict().items():
        torch.testing.assert_close(reloaded.model.state_dict()[name], tensor, rtol=1e-3, atol=1e-4)


TINY = ModelConfig(
    backbone_options={"patch_size": 8, "depth": 1, "embed_dim": 48, "num_heads": 2}, image_size=16
)


@pytest.fixture
def tiny_bundle() -> EstimatorBundle:
    torch.manual_seed(0)
    return EstimatorBundle(
        model=QualityNet(TINY).eval(),
        model_config=TINY,
        encoding=EncodingConfig(image_size=16),
        interval_half_width=0.2,
    )


def test_an_int8_file_predicts_like_the_float_network(tmp_path, tiny_bundle):
    path = save_bundle(tiny_bundle, tmp_path / "tiny_int8.safetensors", quantize="int8")
    tensors = load_file(str(path))
    assert tensors["backbone.blocks.0.attn.qkv.weight"].dtype == torch.int8
    assert tensors["backbone.patch_embed.proj.weight"].dtype == torch.float16  # 2 input channels
    assert tensors["head.1.weight"].dtype == torch.float16  # one output
    slices = torch.rand(32, TINY.in_chans, 16, 16)
    with torch.no_grad():
        expected = tiny_bundle.model(slices)
        got = load_bundle(path).model(slices)
    assert (got - expected).abs().max() < 0.01
    assert not torch.equal(got, expected)


def test_an_unknown_quantization_or_a_kernel_without_its_scale_is_refused(tmp_path, tiny_bundle):
    with pytest.raises(WeightsError, match="quantize"):
        save_bundle(tiny_bundle, tmp_path / "x.safetensors", quantize="int4")
    path = save_bundle(tiny_bundle, tmp_path / "int8.safetensors", quantize="int8")
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
    tensors = load_file(str(path))
    del tensors["backbone.blocks.0.attn.qkv.weight.scale"]
    save_file(tensors, str(tmp_path / "no_scale.safetensors"), metadata=metadata)
    with pytest.raises(WeightsError, match="no_scale.safetensors"):
        load_bundle(tmp_path / "no_scale.safetensors")
