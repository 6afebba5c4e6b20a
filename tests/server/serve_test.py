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
    expanding_store(torchsystem, store, workdir)
    print("client: 2 passed, 0 failed")


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    raise AssertionError("no VmHWM")


def expanding_store(torchsystem, store, workdir):
    """Twenty checkpoints whose history, a few hundred bytes, is one list shared by reference, `L = [L, L]` eighteen
    times: half a million JSON values each. Before, a listing expanded all of them (2.4 GB of RSS and 31 s
    for the server, 941 MB for `torchsystem checkpoints`); now a page's metadata share one budget."""
    hostile = os.path.join(workdir, "hostile")
    os.makedirs(hostile)
    checkpoint = torch.load(os.path.join(store, f"MLP-{DIGEST}.pth"), map_location="cpu")
    shared = []
    for _ in range(18):
        shared = [shared, shared]
    checkpoint["torchsystem"]["extra"]["history"] = shared
    for index in range(20):
        digest = f"{index:032x}"
        checkpoint["torchsystem"]["model"]["hash"] = digest
        torch.save(checkpoint, os.path.join(hostile, f"MLP-{digest}.pth"))
    grown = os.path.getsize(os.path.join(hostile, f"MLP-{0:032x}.pth")) - os.path.getsize(
        os.path.join(store, f"MLP-{DIGEST}.pth"))
    assert grown < 2000, f"the shared history took {grown} bytes"

    server = Server(torchsystem, hostile, "--token", TOKEN)
    try:
        page = call_json(server.url, "/v1/checkpoints?limit=1000")
        assert page["total"] == 20, page["total"]
        assert len(page["checkpoints"]) == 1, [c["hash"] for c in page["checkpoints"]]
        assert len(page["damaged"]) == 19, page["damaged"]
        assert all("left out of the listing" in message for message in page["damaged"]), page["damaged"][:2]
        assert all(message.startswith("MLP-") for message in page["damaged"]), page["damaged"][0]
        # The next page has its own budget.
        assert len(call_json(server.url, "/v1/checkpoints?offset=1&limit=1")["checkpoints"]) == 1
        peak = peak_rss_mb(server.process.pid)
        assert peak < 800, f"the server peaked at {peak} MB"
    finally:
        server.stop()

    # The command's own peak, from wait4 (ru_maxrss in KiB): read its output from files, then reap it.
    with open(os.path.join(workdir, "listing.out"), "w+") as out, open(os.path.join(workdir, "listing.err"), "w+") as err:
        process = subprocess.Popen([torchsystem, "checkpoints", hostile], stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    assert "MLP" in stdout, stdout
    assert "left out of the listing" in stderr, stderr[-500:]
    peak = usage.ru_maxrss // 1024
    assert peak < 1000, f"torchsystem checkpoints peaked at {peak} MB"


if __name__ == "__main__":
    client(sys.argv[1], sys.argv[2])
