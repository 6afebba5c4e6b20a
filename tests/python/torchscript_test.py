"""A model defined only in Python, trained, resumed and served by the C++ program under its Python identity
(docs/torchscript.md), with real PyTorch as the oracle; and every bad archive refused before anything is
written.

    torchscript_test.py TORCHSYSTEM WORKDIR
"""
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import urllib.request
import zipfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
from interop_test import MLP  # noqa: E402  (the reference's MLP, the seed's architecture)
from torchsystem_torchscript import identity, save  # noqa: E402

ARGUMENTS = {"input_size": 784, "hidden_size": 256, "output_size": 10, "dropout": 0.5, "activation": "ReLU"}
FASHION = "/usr/share/datasets/fashion-mnist"


def fashion_test_set():
    with gzip.open(os.path.join(FASHION, "t10k-images-idx3-ubyte.gz")) as file:
        images = np.frombuffer(file.read(), np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(os.path.join(FASHION, "t10k-labels-idx1-ubyte.gz")) as file:
        labels = np.frombuffer(file.read(), np.uint8, offset=8)
    return torch.from_numpy(images.astype(np.float32) / 255), torch.from_numpy(labels.astype(np.int64))


def write_config(workdir, name, archive, store):
    config = {"model": {"torchscript": archive}, "criterion": {"name": "CrossEntropyLoss"},
              "optimizer": {"name": "Adam", "arguments": {"lr": 0.001}}, "epochs": 1, "batch_size": 64,
              "seed": 42, "store": store, "data": {"name": "FashionMNIST"}}
    path = os.path.join(workdir, name)
    with open(path, "w") as file:
        json.dump(config, file)
    return path


def train(torchsystem, config):
    return subprocess.run([torchsystem, "train", config], capture_output=True, text=True, timeout=240)


def trains_and_resumes(torchsystem, workdir):
    torch.manual_seed(5)
    recorded = save(MLP(784, 256, 10, 0.5, torch.nn.ReLU()), os.path.join(workdir, "mlp.pt"), "MLP", ARGUMENTS)
    config = write_config(workdir, "job.json", "mlp.pt", "weights")  # relative to the configuration
    for epoch in (1, 2):
        run = train(torchsystem, config)
        assert run.returncode == 0, run.stdout + run.stderr
        assert f"epoch {epoch}  loss" in run.stdout, run.stdout
    assert "resuming from epoch 1" in run.stdout, run.stdout
    stem = os.path.join(workdir, "weights", f"MLP-{recorded['hash']}")
    # Python's own eager class loads the checkpoint strictly, and its optimizer state.
    checkpoint = torch.load(stem + ".pth", map_location="cpu")
    assert checkpoint["epoch"] == 2, checkpoint["epoch"]
    assert checkpoint["torchsystem"]["model"]["hash"] == recorded["hash"]
    model = MLP(784, 256, 10, 0.5, torch.nn.ReLU())
    model.load_state_dict(checkpoint["nn"], strict=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    optimizer.load_state_dict(checkpoint["optimizer"])
    model.eval()
    images, labels = fashion_test_set()
    with torch.no_grad():
        accuracy = (model(images).argmax(1) == labels).float().mean().item()
    assert accuracy >= 0.80, accuracy
    # The store keeps the archive beside the checkpoint: the store alone serves it.
    assert os.path.exists(stem + ".jit")
    resumes_a_python_checkpoint(torchsystem, workdir, model, optimizer, recorded)
    return model, recorded, images


def resumes_a_python_checkpoint(torchsystem, workdir, model, optimizer, recorded):
    """A checkpoint Python saved for the identity, in the reference's layout, resumes in C++."""
    os.makedirs(os.path.join(workdir, "python-weights"))
    torch.save({"epoch": 5, "nn": model.state_dict(), "optimizer": optimizer.state_dict()},
               os.path.join(workdir, "python-weights", f"MLP-{recorded['hash']}.pth"))
    run = train(torchsystem, write_config(workdir, "python.json", "mlp.pt", "python-weights"))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "resuming from epoch 5" in run.stdout and "epoch 6  loss" in run.stdout, run.stdout


def serves_without_a_plugin(torchsystem, workdir, model, recorded, images):
    store = os.path.join(workdir, "copied-store")  # a copy, as on another machine
    shutil.copytree(os.path.join(workdir, "weights"), store)
    server = subprocess.Popen([torchsystem, "serve", "--store", store, "--port", "0"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:"), line + server.stderr.read()
        url = line.split()[-1]
        batch = images[:8]
        body = json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": [8, 784],
                                       "data": batch.reshape(-1).tolist()}]}).encode()
        request = urllib.request.Request(f"{url}/v2/models/MLP/versions/{recorded['hash']}/infer", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.load(response)
        output = answer["outputs"][0]
        assert output["shape"] == [8, 10], output["shape"]
        with torch.no_grad():
            expected = model(batch)
        served = torch.tensor(output["data"], dtype=torch.float32).reshape(8, 10)
        difference = (served - expected).abs().max().item()
        assert difference <= 1e-4, difference
    finally:
        server.terminate()
        server.wait(timeout=30)


BAD_MODULES = '''
import torch


class Two(torch.nn.Module):
    def forward(self, x, y):
        return x + y
'''


def refuses_bad_archives(torchsystem, workdir):
    """Each bad archive: exit status 1, the file and the reason named, nothing written to the store."""
    good = open(os.path.join(workdir, "mlp.pt"), "rb").read()
    model = MLP(784, 256, 10, 0.5, torch.nn.ReLU())
    with open(os.path.join(workdir, "truncated.pt"), "wb") as file:
        file.write(good[:len(good) // 2])
    with open(os.path.join(workdir, "garbage.pt"), "wb") as file:
        file.write(b"not an archive at all\n" * 20)
    # A flipped byte inside a weight's record: LibTorch would load it silently; its CRC-32 says otherwise.
    with zipfile.ZipFile(os.path.join(workdir, "mlp.pt")) as archive:
        weight = next(info for info in archive.infolist() if "/data/" in info.filename and info.file_size > 1000)
    flipped = bytearray(good)
    name_length, extra_length = struct.unpack("<HH", flipped[weight.header_offset + 26:weight.header_offset + 30])
    flipped[weight.header_offset + 30 + name_length + extra_length + 100] ^= 0x40
    with open(os.path.join(workdir, "flipped.pt"), "wb") as file:
        file.write(bytes(flipped))
    torch.jit.save(torch.jit.script(model), os.path.join(workdir, "anonymous.pt"))
    lying = identity("MLP", ARGUMENTS)
    lying["hash"] = "0" * 32
    torch.jit.save(torch.jit.script(model), os.path.join(workdir, "lying.pt"),
                   _extra_files={"torchsystem.json": json.dumps(lying)})
    with open(os.path.join(workdir, "bad_modules.py"), "w") as file:
        file.write(BAD_MODULES)
    sys.path.insert(0, workdir)
    import bad_modules  # noqa: E402
    torch.jit.save(torch.jit.script(bad_modules.Two()), os.path.join(workdir, "two_inputs.pt"),
                   _extra_files={"torchsystem.json": json.dumps(identity("Two", {}))})
    cases = {
        "truncated.pt": "not a readable TorchScript archive",
        "garbage.pt": "not a readable TorchScript archive",
        "flipped.pt": "is corrupted (CRC error)",
        "anonymous.pt": "has no torchsystem.json",
        "lying.pt": "claims the identity MLP-" + "0" * 32 + ", but its arguments give MLP-" + identity("MLP", ARGUMENTS)["hash"],
        "two_inputs.pt": "a model's forward takes one tensor and returns one tensor",
        "missing.pt": "no such file",
    }
    for archive, reason in cases.items():
        store = "store-" + archive
        run = train(torchsystem, write_config(workdir, archive + ".json", archive, store))
        path = os.path.join(workdir, archive)
        assert run.returncode == 1, (archive, run.returncode, run.stderr)
        assert run.stderr.startswith(f"torchsystem train: config.model.torchscript: {path}: "), run.stderr
        assert reason in run.stderr, (archive, run.stderr)
        assert "terminate called" not in run.stderr and "Exception raised from" not in run.stderr, run.stderr
        assert not os.path.exists(os.path.join(workdir, store)), archive


def main(torchsystem, workdir):
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    model, recorded, images = trains_and_resumes(torchsystem, workdir)
    serves_without_a_plugin(torchsystem, workdir, model, recorded, images)
    refuses_bad_archives(torchsystem, workdir)
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
