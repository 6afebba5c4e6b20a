#!/usr/bin/env python3
"""Prints what PyTorch 1.13 computes for the project's MultiheadAttention and transformer layers
(src/torch/transformer.cpp), for tests/torch/transformer_test.cpp: each module's state-dict names and
shapes, and its output with every parameter filled as fill(i, n) below and inputs filled as inputs(n).
Run with a Python that has torch (on this machine /usr/bin/python3)."""
import math
import torch


def fill(module):
    """The i-th tensor of the state dict gets 0.3 * sin(0.7 * k + i) at flat index k."""
    with torch.no_grad():
        for i, (_, tensor) in enumerate(module.state_dict().items()):
            k = torch.arange(tensor.numel(), dtype=torch.float64)
            tensor.copy_((0.3 * torch.sin(0.7 * k + i)).reshape(tensor.shape))


def inputs(*shape, phase=0.0):
    k = torch.arange(math.prod(shape), dtype=torch.float64)
    return torch.cos(0.37 * k + phase).reshape(shape).float()


def show(name, module, output):
    print(name)
    print("  names:", ", ".join(f'"{n}:{list(t.shape)}"' for n, t in module.state_dict().items()))
    print("  output:", ", ".join(f"{v:.8g}F" for v in output.detach().flatten().tolist()))


torch.manual_seed(0)
mask = torch.tensor([[False, True, False, False], [False, False, False, True], [True, False, False, False]])
padding = torch.tensor([[False, False, True, False], [False, False, False, False]])

mha = torch.nn.MultiheadAttention(4, 2, kdim=3, vdim=5, add_bias_kv=True, add_zero_attn=True, batch_first=True)
fill(mha)
mha.eval()
out, weights = mha(inputs(2, 3, 4), inputs(2, 4, 3, phase=1.0), inputs(2, 4, 5, phase=2.0),
                   key_padding_mask=padding, attn_mask=mask)
show("MultiheadAttention(4, 2, kdim=3, vdim=5, add_bias_kv=True, add_zero_attn=True, batch_first=True)",
     mha, out)
print("  weights:", ", ".join(f"{v:.8g}F" for v in weights.flatten().tolist()))

encoder = torch.nn.TransformerEncoderLayer(4, 2, 6, 0.0, "gelu", 1e-3, batch_first=True, norm_first=True)
fill(encoder)
encoder.eval()
show("TransformerEncoderLayer(4, 2, 6, 0.0, gelu, 1e-3, batch_first=True, norm_first=True)", encoder,
     encoder(inputs(2, 3, 4), src_mask=mask[:, :3], src_key_padding_mask=padding[:, :3]))

decoder = torch.nn.TransformerDecoderLayer(4, 2, 6, 0.0, "relu", 1e-4, batch_first=True, norm_first=True)
fill(decoder)
decoder.eval()
show("TransformerDecoderLayer(4, 2, 6, 0.0, relu, 1e-4, batch_first=True, norm_first=True)", decoder,
     decoder(inputs(2, 3, 4), inputs(2, 4, 4, phase=1.0), tgt_mask=mask[:, :3], memory_mask=mask,
             memory_key_padding_mask=padding))

for name, module in [("MultiheadAttention(8, 2, bias=False)", torch.nn.MultiheadAttention(8, 2, bias=False)),
                     ("MultiheadAttention(8, 2)", torch.nn.MultiheadAttention(8, 2)),
                     ("TransformerDecoderLayer(8, 2, 16)", torch.nn.TransformerDecoderLayer(8, 2, 16)),
                     ("LayerNorm([2, 3], elementwise_affine=False)", torch.nn.LayerNorm([2, 3], elementwise_affine=False))]:
    print(name)
    print("  names:", ", ".join(f'"{n}:{list(t.shape)}"' for n, t in module.state_dict().items()))
