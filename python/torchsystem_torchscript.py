"""Saves a PyTorch model as a TorchScript archive that carries its torchsystem identity, so that the C++
`torchsystem train` and `serve` take it without a plugin (docs/torchscript.md).

    from torchsystem_torchscript import save
    save(model, "mlp.pt")                                   # a model built through torchsystem's register()
    save(model, "mlp.pt", name="MLP", arguments={...})      # or its identity given by hand

The identity is Python torchsystem's: the name, the arguments the model was built with, and
md5(name + json.dumps(arguments)). It travels in the archive as the extra file torchsystem.json.
"""
import hashlib
import json

import torch

IDENTITY_FILE = "torchsystem.json"


def identity(name, arguments):
    """{"name", "arguments", "hash"}, the hash as torchsystem's gethash computes it."""
    digest = hashlib.md5((name + json.dumps(arguments)).encode("utf-8")).hexdigest()
    return {"name": name, "arguments": arguments, "hash": digest}


def save(model, path, name=None, arguments=None, trace_with=None):
    """Scripts `model` (or traces it with the example input `trace_with`) and saves it to `path` with its
    identity. Without `name` and `arguments`, they come from torchsystem's registry (the model must have
    been built through register())."""
    if name is None or arguments is None:
        from torchsystem.registry import getarguments, getname  # the Python framework, when installed
        name, arguments = getname(model), getarguments(model)
    recorded = identity(name, arguments)
    scripted = torch.jit.trace(model, trace_with) if trace_with is not None else torch.jit.script(model)
    torch.jit.save(scripted, path, _extra_files={IDENTITY_FILE: json.dumps(recorded)})
    return recorded
