"""Weight-only int8 storage: what keeps the shipped weights of eight models under 25 MB.

Every weight matrix (``ndim >= 2``: linear, convolution) is stored as int8 with one float32
scale per output channel (its first axis), symmetric around zero::

    scale[o] = max_i |w[o, i]| / 127        q[o, i] = round(w[o, i] / scale[o])  in [-127, 127]
    w'[o, i] = q[o, i] * scale[o]           |w' - w| <= scale[o] / 2

Vectors (biases, norm scales) and position tables are stored as float16: they are a
few percent of the bytes. The scheme is the weight-only, per-channel quantization of
``torch.ao`` and of LLM.int8's storage, without their kernels: the weights are expanded back
to float32 on load and the model runs in float32.
"""

from __future__ import annotations

import torch

__all__ = ["SCALE_SUFFIX", "dequantize_state", "quantize_state"]

SCALE_SUFFIX = ":int8_scale"  # a key no PyTorch parameter name can contain (":")


def quantize_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``{name: float tensor}`` -> the same keys (weight matrices as int8) plus one
    ``name + SCALE_SUFFIX`` float32 ``(out_channels,)`` per quantized tensor."""
    stored = {}
    for name, tensor in state.items():
        tensor = tensor.detach().cpu().contiguous()
        if not tensor.is_floating_point() or tensor.ndim < 2 or tensor.shape[0] == 1:
            stored[name] = tensor.to(torch.float16) if tensor.is_floating_point() else tensor
            continue
        rows = tensor.float().flatten(1)  # (out, rest)
        scale = rows.abs().amax(1).clamp_min(torch.finfo(torch.float32).tiny) / 127
        stored[name] = (rows / scale[:, None]).round().clamp(-127, 127).to(torch.int8)
        stored[name] = stored[name].view(tensor.shape)
        stored[name + SCALE_SUFFIX] = scale
    return stored


def dequantize_state(stored: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inverse of :func:`quantize_state`: every tensor back in float32."""
    state = {}
    for name, tensor in stored.items():
        if name.endswith(SCALE_SUFFIX):
            continue
        scale = stored.get(name + SCALE_SUFFIX)
        if scale is not None:
            shape = (-1,) + (1,) * (tensor.ndim - 1)
            state[name] = tensor.float() * scale.view(shape)
        else:
            state[name] = tensor.float() if tensor.is_floating_point() else tensor
    return state
