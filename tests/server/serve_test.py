"""`torchsystem serve` from the outside, through a client on Python's standard library only.

    serve_test.py TORCHSYSTEM WORKDIR

Trains a small MLP of the seed's with `torchsystem train` (the synthetic task, two epochs), serves its store
with a token, then lists, builds, hashes, downloads the checkpoint (which torch.load reads into PyTorch's own
MLP) and runs inference, whose outputs must equal that PyTorch model's.
"""
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from interop_test import MLP  # noqa: E402  (the reference's MLP)

ARGUMENTS = {"input_size": 784, "hidden_size": 32, "output_size": 10, "dropout": 0.5, "activation": "ReLU"}
DIGEST = hashlib.md5(("MLP" + json.dumps(ARGUMENTS)).encode()).hexdigest()
TOKEN = "test-token"


def train(torchsystem, workdir):
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    config = {"model": {"name": "MLP", "arguments": ARGUMENTS}, "criterion": {"name": "CrossEntropyLoss"},
              "optimizer": {"name": "Adam", "arguments": {"lr": 0.001}}, "epochs": 2, "batch_size": 64, "seed": 3,
              "store": "weights", "data": {"train_samples": 512, "test_samples": 128}, "plugins": ["seed"]}
    path = os.path.join(workdir, "config.json")
    with open(path, "w") as file:
        json.dump(config, file)
    subprocess.run([torchsystem, "train", path], check=True, capture_output=True, timeout=120)
    return os.path.join(workdir, "weights")


class Server:
    """`torchsystem serve` on an ephemeral port, stopped with SIGTERM (it must exit 0)."""

    def __init__(self, torchsystem, store, *options):
        self.process = subprocess.Popen([torchsystem, "serve", "--store", store, "--port", "0", "--plugin", "seed",
                                         *options], stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        match = re.fullmatch(r"listening on (http://127\.0\.0\.1:\d+)\n", line)
        assert match, repr(line)
        self.url = match.group(1)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=10) == 0
        assert self.process.stdout.read() == "stopped\n"


def call(url, path, body=None, token=TOKEN, headers=None):
    """(status, headers, body bytes) of one request; HTTP errors are answers too."""
    request = urllib.request.Request(url + path, data=None if body is None else json.dumps(body).encode(),
                                     headers=dict(headers or {}), method="GET" if body is None else "POST")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def call_json(url, path, body=None, expected=200):
    status, _, data = call(url, path, body)
    assert status == expected, (path, status, data)
    return json.loads(data)


def client(torchsystem, workdir):
    store = train(torchsystem, workdir)
    server = Server(torchsystem, store, "--token", TOKEN)
    try:
        url = server.url
        assert call(url, "/v1/registry/types", token=None)[0] == 401
        assert call(url, "/v2/health/live", token=None)[0] == 200
        types = {entry["name"]: entry for entry in call_json(url, "/v1/registry/types")["types"]}
        assert types["MLP"]["signature"] == {"input_size": "int", "hidden_size": "int", "output_size": "int",
                                             "dropout": "float", "activation": "Module"}, types["MLP"]
        config = {"name": "MLP", "arguments": ARGUMENTS}
        assert call_json(url, "/v1/identity", config)["hash"] == DIGEST
        built = call_json(url, "/v1/registry/build", config)
        assert built["hash"] == DIGEST and built["parameters"] == 784 * 32 + 32 + 32 * 10 + 10, built
        listed = call_json(url, "/v1/checkpoints")
        assert [(c["name"], c["hash"], c["epoch"]) for c in listed["checkpoints"]] == [("MLP", DIGEST, 2)], listed
        assert [record["epoch"] for record in listed["checkpoints"][0]["history"]] == [1, 2]

        # The download is the store's file, which torch.load reads into PyTorch's MLP.
        status, headers, data = call(url, f"/v1/checkpoints/MLP-{DIGEST}/file")
        assert status == 200, status
        path = os.path.join(store, f"MLP-{DIGEST}.pth")
        with open(path, "rb") as file:
            assert data == file.read()
        assert call(url, f"/v1/checkpoints/MLP-{DIGEST}/file", headers={"If-None-Match": headers["ETag"]})[0] == 304
        downloaded = os.path.join(workdir, "downloaded.pth")
        with open(downloaded, "wb") as file:
            file.write(data)
        checkpoint = torch.load(downloaded, map_location="cpu")
        model = MLP(784, 32, 10, 0.5, torch.nn.ReLU())
        model.load_state_dict(checkpoint["nn"])
        model.eval()

        # Inference over HTTP equals the model run in PyTorch, value for value.
        metadata = call_json(url, f"/v2/models/MLP/versions/{DIGEST}")
        assert metadata["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 784]}], metadata
        torch.manual_seed(5)
        inputs = torch.rand(3, 784)
        request = {"id": "python", "inputs": [{"name": "input", "shape": [3, 784], "datatype": "FP32",
                                               "data": inputs.tolist()}]}
        answer = call_json(url, f"/v2/models/MLP/versions/{DIGEST}/infer", request)
        output = answer["outputs"][0]
        assert output["shape"] == [3, 10] and answer["id"] == "python", answer
        served = torch.tensor(output["data"], dtype=torch.float32).reshape(3, 10)
        with torch.no_grad():
            expected = model(inputs)
        assert torch.equal(served, expected), (served - expected).abs().max()
        bad = call(url, f"/v2/models/MLP/versions/{DIGEST}/infer",
                   {"inputs": [{"name": "input", "shape": [1, 783], "datatype": "FP32", "data": [0] * 783}]})
        assert bad[0] == 400 and json.loads(bad[2])["input"] == "input", bad
    finally:
        server.stop()
    print("client: 1 passed, 0 failed")


if __name__ == "__main__":
    client(sys.argv[1], sys.argv[2])
